"""Writes the corpus: correct-but-different and realistic wrong attempts per exercise.

    python tests/submissions/corpus/make_corpus.py

Most attempts are a base file with a few lines written another way (each patch must
apply exactly once, so an edit of the base shows here). Each exercise folder gets an
``index.json``: for a wrong attempt, the mistake it makes and ``keyword``, text (``|``
between alternatives, case-insensitive) that a message naming that mistake contains.
The bases are the course's decoder/attention/... files as a student would finish them;
none is a copy of a known-mistake variant in solutions/*_mistakes.py.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def patched(base: str, *patches: tuple[str, str]) -> str:
    for old, new in patches:
        count = base.count(old)
        if count != 1:
            raise SystemExit(f"patch {old[:60]!r} applies {count} times")
        base = base.replace(old, new)
    return base


def solution(name: str) -> str:
    text = (ROOT / "solutions" / f"{name}.py").read_text()
    return text.replace('"""Reference:', '"""A student attempt, based on a finished exercise:', 1)


# --------------------------------------------------------------------------- softmax

SOFTMAX_HEAD = "import torch\nfrom torch import Tensor\n\n\n"
softmax = {
    "correct": {
        "logsumexp.py": ("x - logsumexp, then exp", "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    return (x - torch.logsumexp(x, dim=dim, keepdim=True)).exp()\n"),
        "max_values.py": ("torch.max(...).values and a reciprocal", "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    m = torch.max(x, dim=dim, keepdim=True).values\n    e = torch.exp(x - m)\n    return e * (1.0 / e.sum(dim=dim, keepdim=True))\n"),
        "movedim.py": ("moves dim last, works on the last dim, moves it back", "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    y = x.movedim(dim, -1)\n    y = (y - y.max(-1, keepdim=True)[0]).exp()\n    y = y / y.sum(-1, keepdim=True)\n    return y.movedim(-1, dim)\n"),
        "double_then_cast.py": ("computes in float64, casts back", "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    d = x.double()\n    e = (d - d.amax(dim, keepdim=True)).exp()\n    return (e / e.sum(dim, keepdim=True)).to(x.dtype)\n"),
        "sub_div.py": ("torch.sub / torch.div spelled out", "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    shifted = torch.sub(x, torch.amax(x, dim=dim, keepdim=True))\n    numerator = torch.exp(shifted)\n    return torch.div(numerator, torch.sum(numerator, dim=dim, keepdim=True))\n"),
    },
    "wrong": {
        "no_keepdim.py": ("sum without keepdim: broadcasts against the wrong axis or fails", "shape|keepdim|size of tensor",
                          "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    e = (x - x.amax(dim=dim, keepdim=True)).exp()\n    return e / e.sum(dim=dim)\n"),
        "in_place.py": ("modifies the input in place", "modified|in place",
                        "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    x -= x.amax(dim=dim, keepdim=True)\n    x.exp_()\n    return x / x.sum(dim=dim, keepdim=True)\n"),
        "no_grad.py": ("computed under torch.no_grad(): no gradient", "gradient|graph|grad",
                       "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    with torch.no_grad():\n        e = (x - x.amax(dim=dim, keepdim=True)).exp()\n        return e / e.sum(dim=dim, keepdim=True)\n"),
        "always_float32.py": ("casts to float32 whatever the input dtype", "dtype",
                              "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    x = x.float()\n    e = (x - x.amax(dim=dim, keepdim=True)).exp()\n    return e / e.sum(dim=dim, keepdim=True)\n"),
        "min_shift.py": ("subtracts the minimum instead of the maximum: overflows", "inf|nan|overflow|max subtraction",
                         "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    e = (x - x.amin(dim=dim, keepdim=True)).exp()\n    return e / e.sum(dim=dim, keepdim=True)\n"),
        "endless.py": ("an endless loop", "did not return|endless loop",
                       "def softmax(x: Tensor, dim: int = -1) -> Tensor:\n    while True:\n        pass\n"),
    },
}
for kind in softmax.values():
    for name, entry in kind.items():
        kind[name] = entry[:-1] + ('"""A student attempt at softmax."""\n\n' + SOFTMAX_HEAD + entry[-1],)

# --------------------------------------------------------------------------- attention

A = solution("attention")
SCORES = "    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)\n"
SPLIT = """        q = q.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
"""
MASKED_ZERO = A[A.index("    if mask is not None:\n        # A query"):A.index("    output = weights @ v")]
CALL = "        y, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, nh, T, hs)\n"
attention = {
    "correct": {
        "einsum.py": ("einsum for scores and output", patched(A, (SCORES, "    scores = torch.einsum('...qd,...kd->...qk', q, k) / d_k ** 0.5\n"),
                                                             ("    output = weights @ v  # (..., T_q, d_v)\n", "    output = torch.einsum('...qk,...kv->...qv', weights, v)\n"))),
        "prescale_q.py": ("scales q before the product", patched(A, (SCORES, "    scores = (q / math.sqrt(d_k)) @ k.transpose(-2, -1)\n"))),
        "finfo_fill.py": ("fills with the dtype's minimum, then zeroes masked weights", patched(A, ('        scores = scores.masked_fill(~mask, float("-inf"))\n', "        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)\n"))),
        "nan_to_num.py": ("-inf fill, NaN rows cleaned with nan_to_num", patched(A, (MASKED_ZERO, "    weights = torch.nan_to_num(weights, nan=0.0)\n"))),
        "chunk_permute.py": ("chunk and permute/reshape", patched(A, ("        q, k, v = self.c_attn(x).split(self.d_model, dim=2)  # 3 x (B, T, C)\n", "        q, k, v = self.c_attn(x).chunk(3, dim=-1)\n"),
                                                                    (SPLIT, "        q, k, v = (t.reshape(B, T, self.n_heads, hs).permute(0, 2, 1, 3) for t in (q, k, v))\n"),
                                                                    ("        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads: (B, T, C)\n", "        y = y.permute(0, 2, 1, 3).reshape(B, T, C)\n"))),
    },
    "wrong": {
        "scale_d_model.py": ("MHA scales the scores by 1/sqrt(d_model) instead of the head size", "d_model",
                             patched(A, (CALL, "        att = (q @ k.transpose(-2, -1)) / math.sqrt(C)\n        if mask is not None:\n            att = att.masked_fill(~mask, float('-inf'))\n        y = torch.softmax(att, dim=-1) @ v\n"))),
        "split_hs_nh.py": ("heads split as (hs, nh)", "(hs, nh)",
                           patched(A, (SPLIT, "        q = q.view(B, T, hs, self.n_heads).transpose(1, 2)\n        k = k.view(B, T, hs, self.n_heads).transpose(1, 2)\n        v = v.view(B, T, hs, self.n_heads).transpose(1, 2)\n"))),
        "weights_first.py": ("returns (weights, output)", "(weights, output)",
                             patched(A, ("    return output, weights\n", "    return weights, output\n"), (CALL, "        _, y = scaled_dot_product_attention(q, k, v, mask)\n"))),
        "dropout_in_eval.py": ("F.dropout on the weights, training=True by default", "dropout",
                               patched(A, ("    output = weights @ v  # (..., T_q, d_v)\n", "    output = torch.nn.functional.dropout(weights, 0.1) @ v\n"))),
        "zero_fill.py": ("masked scores filled with 0 instead of -inf", "-inf|mask",
                         patched(A, ('        scores = scores.masked_fill(~mask, float("-inf"))\n', "        scores = scores.masked_fill(~mask, 0.0)\n"),
                                 (MASKED_ZERO, ""))),
        "scale_after_softmax.py": ("divides the weights by sqrt(d_k) after the softmax", "scal|sqrt",
                                   patched(A, (SCORES, "    scores = q @ k.transpose(-2, -1)\n"),
                                           ("    output = weights @ v  # (..., T_q, d_v)\n", "    weights = weights / math.sqrt(d_k)\n    output = weights @ v\n"))),
    },
}

# --------------------------------------------------------------------------- positional_encoding

P = solution("positional_encoding")
ANGLE = "    angle = position / torch.pow(10000.0, two_i / d_model)  # (max_len, d_model/2)\n"
positional_encoding = {
    "correct": {
        "div_term.py": ("exp(-log(10000) 2i/d) as in the annotated transformer", patched(P, (ANGLE, "    angle = position * torch.exp(two_i * (-math.log(10000.0) / d_model))\n"), ("import torch\n", "import math\n\nimport torch\n"))),
        "loops.py": ("two Python loops with math.sin/cos", "\"\"\"A student attempt.\"\"\"\n\nimport math\n\nimport torch\n\n\ndef sinusoidal_positional_encoding(max_len, d_model):\n    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:\n        raise ValueError(f\"bad sizes {max_len}, {d_model}\")\n    rows = []\n    for p in range(max_len):\n        row = []\n        for i in range(0, d_model, 2):\n            a = p / 10000 ** (i / d_model)\n            row += [math.sin(a), math.cos(a)]\n        rows.append(row)\n    return torch.tensor(rows, dtype=torch.float32)\n"),
        "stack_view.py": ("stack (sin, cos) on a new last dim, then view", "\"\"\"A student attempt.\"\"\"\n\nimport torch\n\n\ndef sinusoidal_positional_encoding(max_len, d_model):\n    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:\n        raise ValueError(f\"bad sizes {max_len}, {d_model}\")\n    p = torch.arange(max_len, dtype=torch.float64)\n    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)\n    a = torch.outer(p, freq)\n    return torch.stack([a.sin(), a.cos()], dim=-1).view(max_len, d_model).float()\n"),
        "float32_outer.py": ("all in float32 with an outer product", "\"\"\"A student attempt.\"\"\"\n\nimport torch\n\n\ndef sinusoidal_positional_encoding(max_len, d_model):\n    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:\n        raise ValueError(f\"bad sizes {max_len}, {d_model}\")\n    pos = torch.arange(max_len).float()\n    inv = 1.0 / (10000 ** (torch.arange(0, d_model, 2).float() / d_model))\n    a = pos[:, None] * inv[None, :]\n    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = torch.sin(a)\n    pe[:, 1::2] = torch.cos(a)\n    return pe\n"),
        "repeat_interleave.py": ("one angle per column, sin/cos chosen by parity", "\"\"\"A student attempt.\"\"\"\n\nimport torch\n\n\ndef sinusoidal_positional_encoding(max_len, d_model):\n    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:\n        raise ValueError(f\"bad sizes {max_len}, {d_model}\")\n    j = torch.arange(d_model)\n    expo = (j - j % 2).double() / d_model\n    a = torch.arange(max_len).double()[:, None] / 10000.0 ** expo\n    return torch.where(j % 2 == 0, a.sin(), a.cos()).to(torch.float32)\n"),
    },
    "wrong": {
        "base_1000.py": ("wrong exponent: base 1000", "frequenc", patched(P, (ANGLE, "    angle = position / torch.pow(1000.0, two_i / d_model)\n"))),
        "four_i.py": ("wrong exponent: 2 * (2i) / d_model", "frequenc", patched(P, (ANGLE, "    angle = position / torch.pow(10000.0, 2 * two_i / d_model)\n"))),
        "integer_exponent.py": ("integer division in the exponent", "integer",
                                patched(P, ("    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d_model/2,)\n", "    two_i = torch.arange(0, d_model, 2)\n"),
                                        (ANGLE, "    angle = position / torch.pow(10000.0, two_i // d_model)\n"))),
        "integer_positions.py": ("integer positions, floor division", "integer",
                                 patched(P, ("    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)\n", "    position = torch.arange(max_len).unsqueeze(1)\n"),
                                         (ANGLE, "    angle = position // torch.pow(10000.0, two_i / d_model)\n"))),
        "float64.py": ("returns float64", "float32|dtype", patched(P, ("    return pe.to(torch.float32)\n", "    return pe\n"))),
    },
}

# --------------------------------------------------------------------------- decoder_block

D = solution("decoder_block")
GELU = '        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))\n'
FWD = "        x = x + self.attn(self.ln_1(x))\n        x = x + self.mlp(self.ln_2(x))\n"
decoder_block = {
    "correct": {
        "gelu_formula.py": ("tanh GELU written out", patched(D, (GELU, "        h = self.c_fc(x)\n        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)))\n        return self.dropout(self.c_proj(h))\n"))),
        "gelu_module.py": ("nn.GELU('tanh') as a module", patched(D, ("        self.dropout = nn.Dropout(dropout)\n\n    def forward(self, x: Tensor) -> Tensor:\n        # GPT-2", "        self.dropout = nn.Dropout(dropout)\n        self.act = nn.GELU(approximate='tanh')\n\n    def forward(self, x: Tensor) -> Tensor:\n        # GPT-2"), (GELU, "        return self.dropout(self.c_proj(self.act(self.c_fc(x))))\n"))),
        "mask_buffer.py": ("causal mask as a non-persistent buffer", patched(D, ("        self.resid_dropout = nn.Dropout(dropout)\n", "        self.resid_dropout = nn.Dropout(dropout)\n        self.register_buffer('tri', torch.ones(256, 256, dtype=torch.bool).tril(), persistent=False)\n"),
                                                                                   ("        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)\n        att = att.masked_fill(future, float(\"-inf\"))\n", "        att = att.masked_fill(~self.tri[:T, :T], float(\"-inf\"))\n"))),
        "torch_sdpa.py": ("attention through F.scaled_dot_product_attention", patched(D, ("        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, T)\n", "        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.attn_dropout.p if self.training else 0.0)\n        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))\n        att = None\n"))),
        "named_steps.py": ("forward with named intermediate values", patched(D, (FWD, "        attended = self.attn(self.ln_1(x))\n        h = x + attended\n        fed = self.mlp(self.ln_2(h))\n        return h + fed\n"))),
    },
    "wrong": {
        "quick_gelu.py": ("quick GELU x * sigmoid(1.702 x)", "quick gelu", patched(D, (GELU, "        h = self.c_fc(x)\n        return self.dropout(self.c_proj(h * torch.sigmoid(1.702 * h)))\n"))),
        "shared_ln2.py": ("ln_2 used before both sub-layers", "ln_2 used before both", patched(D, (FWD, "        x = x + self.attn(self.ln_2(x))\n        x = x + self.mlp(self.ln_2(x))\n"))),
        "mlp_dropout_always.py": ("F.dropout in the MLP, on in eval mode", "dropout", patched(D, (GELU, "        return F.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate='tanh')), self.dropout.p)\n"))),
        "eps_ignored.py": ("layer_norm_eps not passed to the LayerNorms", "layer_norm_eps",
                           patched(D, ("        self.ln_1 = nn.LayerNorm(d_model, eps=layer_norm_eps)\n", "        self.ln_1 = nn.LayerNorm(d_model)\n"), ("        self.ln_2 = nn.LayerNorm(d_model, eps=layer_norm_eps)\n", "        self.ln_2 = nn.LayerNorm(d_model)\n"))),
        "mlp_no_dropout.py": ("the MLP has no dropout", "mlp has no dropout", patched(D, (GELU, '        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))\n'))),
    },
}

# --------------------------------------------------------------------------- ner_head

N = solution("ner_head")
LOSS_BODY = N[N.index("    num_labels = logits.size(-1)\n"):N.index("def bio_to_spans")]
ner_head = {
    "correct": {
        "ce_transpose.py": ("F.cross_entropy on (B, L, T)", patched(N, (LOSS_BODY, "    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX)\n\n\n"))),
        "ce_flat.py": ("F.cross_entropy on flattened logits", patched(N, (LOSS_BODY, "    L = logits.shape[-1]\n    return torch.nn.functional.cross_entropy(logits.reshape(-1, L), labels.reshape(-1), ignore_index=-100)\n\n\n"))),
        "sgd.py": ("train_head with torch.optim.SGD", patched(N, ("        head.zero_grad()\n        loss.backward()\n        with torch.no_grad():\n            for p in head.parameters():\n                p -= lr * p.grad\n", "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n"),
                                                        ("    head.train()\n    losses = []\n", "    head.train()\n    opt = torch.optim.SGD(head.parameters(), lr=lr)\n    losses = []\n"))),
        "align_enumerate.py": ("align_labels with enumerate and a look-behind", patched(N, (N[N.index("    labels = []\n    previous = None\n"):N.index("class TokenClassificationHead")], "    out = []\n    for i, w in enumerate(word_ids):\n        first = w is not None and (i == 0 or word_ids[i - 1] != w)\n        out.append(word_labels[w] if first else IGNORE_INDEX)\n    return out\n\n\n"))),
        "masked_mean.py": ("loss as a boolean-indexed mean", patched(N, (LOSS_BODY, "    keep = labels != IGNORE_INDEX\n    lp = torch.log_softmax(logits[keep], dim=-1)\n    return -lp.gather(1, labels[keep].unsqueeze(1)).mean()\n\n\n"))),
    },
    "wrong": {
        "ce_class_dim.py": ("F.cross_entropy on (B, T, L) logits", "transpose(1, 2)", patched(N, (LOSS_BODY, "    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)\n\n\n"))),
        "no_zero_grad.py": ("train_head never zeroes the gradients", "zero_grad", patched(N, ("        head.zero_grad()\n", ""))),
        "fixed_dropout.py": ("the head ignores its dropout argument", "dropout", patched(N, ("        self.dropout = nn.Dropout(dropout)\n", "        self.dropout = nn.Dropout(0.1)\n"))),
        "mean_all.py": ("the mean divides by every position", "divides by every position", patched(N, ("    return nll.sum() / keep.sum()\n", "    return nll.mean()\n"))),
        "span_order.py": ("spans as (start, end, type)", "type|tuple|order",
                          patched(N, ("            spans.append((kind, start, i))\n", "            spans.append((start, i, kind))\n"), ("        spans.append((kind, start, len(tags)))\n", "        spans.append((start, len(tags), kind))\n"))),
    },
}

# --------------------------------------------------------------------------- gpt2_loading

G = solution("gpt2_loading")
GEN = "        idx_cond = idx[:, -model.config.n_positions :]  # (B, <= n_positions): wpe has no more rows\n"
gpt2_loading = {
    "correct": {
        "safe_open.py": ("reads safetensors with safe_open", patched(G, ("        tensors = load_file(str(folder / \"model.safetensors\"))\n", "        tensors = {}\n        from safetensors import safe_open\n        with safe_open(str(folder / 'model.safetensors'), framework='pt') as f:\n            for key in f.keys():\n                tensors[key] = f.get_tensor(key)\n"))),
        "dot_T.py": ("transposes with .T.contiguous()", patched(G, ("            value = value.t()  # (in, out) -> (out, in)\n", "            value = value.T.contiguous()\n"))),
        "topk.py": ("generate with topk(1)", patched(G, ("        next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1)\n", "        next_id = torch.topk(logits[:, -1], 1, dim=-1).indices\n"))),
        "copy_loop.py": ("copies each tensor in a no_grad loop", patched(G, ("    model.load_state_dict(state, strict=False)\n", "    own = dict(model.named_parameters())\n    with torch.no_grad():\n        for name, value in state.items():\n            if name != 'lm_head.weight':\n                own[name].copy_(value)\n"))),
        "pos_unsqueeze.py": ("positions as a (1, T) row", patched(G, ("        pos = torch.arange(T, device=idx.device)  # (T,)\n", "        pos = torch.arange(0, T, dtype=torch.long, device=idx.device).unsqueeze(0)\n"))),
    },
    "wrong": {
        "last_token_only.py": ("generate feeds only the last token", "newest token|last token alone",
                               patched(G, (GEN, "        idx_cond = idx[:, -1:]\n"))),
        "safetensors_only.py": ("the loader reads only model.safetensors", "pytorch_model.bin",
                                patched(G, ("    if (folder / \"model.safetensors\").is_file():\n", "    if True:\n"))),
        "no_transpose.py": ("Conv1D weights not transposed", "transpose", patched(G, ("            value = value.t()  # (in, out) -> (out, in)\n", "            pass\n"))),
        "no_crop.py": ("generate does not crop to n_positions", "n_positions", patched(G, (GEN, "        idx_cond = idx\n"))),
        "untied_copy.py": ("lm_head a Linear of its own, a copy of wte", "tie|tied",
                           patched(G, ("        self.lm_head.weight = self.wte.weight\n", ""), ("    out[\"lm_head.weight\"] = out[\"wte.weight\"]\n", "    out[\"lm_head.weight\"] = out[\"wte.weight\"].clone()\n"))),
        "sampling.py": ("samples instead of the arg-max", "arg-max|argmax",
                        patched(G, ("        next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1)\n", "        next_id = torch.multinomial(torch.softmax(logits[:, -1, :], dim=-1), 1)\n"))),
    },
}

CORPUS = {
    "softmax": softmax, "attention": attention, "positional_encoding": positional_encoding,
    "decoder_block": decoder_block, "ner_head": ner_head, "gpt2_loading": gpt2_loading,
}


def main() -> None:
    for exercise, kinds in CORPUS.items():
        index: dict = {"correct": {}, "wrong": {}}
        for kind, entries in kinds.items():
            folder = HERE / exercise / kind
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.py"):
                old.unlink()
            for name, entry in entries.items():
                (folder / name).write_text(entry[-1])
                if kind == "correct":
                    index["correct"][name] = entry[0]
                else:
                    index["wrong"][name] = {"mistake": entry[0], "keyword": entry[1]}
        (HERE / exercise / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    # gpt2_loading imports decoder_block: a correct student block beside its attempts.
    (HERE / "gpt2_loading" / "decoder_block.py").write_text(decoder_block["correct"]["gelu_formula.py"][-1])


if __name__ == "__main__":
    main()
