"""Attention attempts that are a correct file with a few exact text replacements:
``write_variant(out_dir, name)`` writes ``name`` into ``out_dir``.

Two bases: ``textbook.py`` for the wrong attempts with one known mistake each, and
``baddbmm_manual_softmax.py`` for the fair-checks corpus. Code outside pytest (the batch
fixtures, benchmarks) takes a variant's text from :func:`variant_text`; tests take a file
from ``conftest.submission_file``."""

from pathlib import Path

from conftest import submission_variant

TEXTBOOK = Path(__file__).with_name("textbook.py")
TEXTBOOK_DOCSTRING = '"""Correct, as textbooks write it: scaled scores, a -inf fill, softmax over the keys, view/transpose heads."""'
MASKING = (
    '    if mask is not None:\n        scores = scores.masked_fill(~mask, float("-inf"))\n'
    "    weights = torch.softmax(scores, dim=-1)\n"
    "    if mask is not None:\n        weights = weights.masked_fill(~mask, 0.0)\n"
)
HEAD_SPLIT = (
    "        q = q.view(B, T, nh, hs).transpose(1, 2)\n"
    "        k = k.view(B, T, nh, hs).transpose(1, 2)\n"
    "        v = v.view(B, T, nh, hs).transpose(1, 2)\n"
)

WRONG = {
    "no_scaling.py": [
        (TEXTBOOK_DOCSTRING, '"""Wrong: the scores are not scaled by 1/sqrt(d_k)."""'),
        ("import math\n\n", ""),
        ("scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)", "scores = q @ k.transpose(-2, -1)"),
    ],
    "inverted_mask.py": [
        (TEXTBOOK_DOCSTRING, '"""Wrong: the mask is read with the opposite polarity (True = hidden)."""'),
        (MASKING, '    if mask is not None:\n        scores = scores.masked_fill(mask, float("-inf"))\n'
                  "    weights = torch.softmax(scores, dim=-1)\n"),
    ],
    "qkv_swapped.py": [
        (TEXTBOOK_DOCSTRING, '"""Wrong: c_attn\'s output read as k, q, v (GPT-2\'s order is q, k, v)."""'),
        ("q, k, v = self.c_attn(x).split(C, dim=2)", "k, q, v = self.c_attn(x).split(C, dim=2)"),
    ],
    "mask_after_softmax.py": [
        (TEXTBOOK_DOCSTRING, '"""Wrong: the mask is applied after the softmax (weights zeroed, rows not renormalised)."""'),
        (MASKING, "    weights = torch.softmax(scores, dim=-1)\n"
                  "    if mask is not None:\n        weights = weights * mask  # zero the masked weights\n"),
    ],
    "softmax_wrong_dim.py": [
        (TEXTBOOK_DOCSTRING, '"""Wrong: softmax over the queries (dim=-2) instead of the keys."""'),
        ("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-2)"),
    ],
    "heads_no_transpose.py": [
        (TEXTBOOK_DOCSTRING, '"""Wrong: heads split with a plain reshape, without transposing."""'),
        (HEAD_SPLIT, "        q = q.reshape(B, nh, T, hs)\n"
                     "        k = k.reshape(B, nh, T, hs)\n"
                     "        v = v.reshape(B, nh, T, hs)\n"),
    ],
}

BADDBMM = Path(__file__).with_name("baddbmm_manual_softmax.py")
DOCSTRING = '"""Correct, written differently: baddbmm on flattened batches, a logsumexp softmax, permute/reshape."""'
SOFTMAX = "weights = torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))"
MATMUL = "out = torch.bmm(weights.reshape(-1, t_q, t_k), v.reshape(-1, t_k, d_v))"

# The fair-checks corpus (tests/test_fair_checks.py).
FAIR = {
    # Zero effort: every allowed key gets the same weight, whatever q and k say (the mask
    # is honoured, so rows sum to one, masked keys get 0 and the output ignores them).
    "uniform_weights.py": [
        (DOCSTRING, '"""Zero effort: uniform weights over the keys the mask allows, q and k unused."""'),
        (SOFTMAX, "flat = torch.where(torch.isinf(scores), scores, scores * 0)\n"
                  "    weights = torch.exp(flat - torch.logsumexp(flat, dim=-1, keepdim=True))"),
    ],
    # Zero effort: a constant 1/T_k weight matrix, mask ignored.
    "constant_weights.py": [
        (DOCSTRING, '"""Zero effort: constant weights 1/T_k, q, k and the mask unused."""'),
        (SOFTMAX, "weights = scores * 0 + 1.0 / t_k"),
    ],
    # One mistake: the softmax is upcast to float32 for stability (as some libraries do) and
    # the weights are returned in float32, whatever the inputs' dtype.
    "float32_weights.py": [
        (DOCSTRING, '"""One mistake: the weights are computed and returned in float32 whatever the dtype of q, k, v."""'),
        (SOFTMAX, "scores = scores.float()\n"
                  "    weights = torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))"),
        (MATMUL, "out = torch.bmm(weights.reshape(-1, t_q, t_k).to(v.dtype), v.reshape(-1, t_k, d_v))"),
    ],
    # Correct: the scale is a float32 constant (1e-8 off in float64, within its tolerance).
    "float32_scale.py": [
        (DOCSTRING, '"""Correct: the scale 1/sqrt(d_k) computed as a float32 tensor."""'),
        ("alpha=1 / math.sqrt(d_k)", "alpha=float(1 / torch.tensor(d_k).sqrt())"),
    ],
    # One mistake: the softmax is computed in float32 and the weights cast back, so they have
    # the inputs' dtype but only float32's precision (float64 values off by some 1e-8).
    "float32_cast_back.py": [
        (DOCSTRING, '"""One mistake: the softmax is computed in float32 and cast back to the dtype of q, k, v."""'),
        (SOFTMAX, "scores32 = scores.float()\n"
                  "    weights = torch.exp(scores32 - torch.logsumexp(scores32, dim=-1, keepdim=True)).to(scores.dtype)"),
    ],
}

BASES = {name: TEXTBOOK for name in WRONG} | {name: BADDBMM for name in FAIR}
VARIANTS = {**WRONG, **FAIR}


def write_variant(out_dir: Path, name: str) -> Path:
    """``out_dir / name``: its base with ``VARIANTS[name]`` applied."""
    return submission_variant(BASES[name], VARIANTS[name], out_dir, name)


def variant_text(name: str) -> str:
    """The source of variant ``name``, without writing it anywhere for long."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return write_variant(Path(folder), name).read_text()
