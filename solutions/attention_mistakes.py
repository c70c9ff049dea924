"""Common attention mistakes, kept so a failing check can name the one a student made.

Each entry of ``MISTAKES`` swaps names of the reference module for a mistaken variant.
A mistake inside ``scaled_dot_product_attention`` also swaps in a ``MultiHeadAttention``
that uses the mistaken function, so module checks can name it too (a student's module
calls the student's own attention function).
"""

import math

import torch
from torch import Tensor

from attention import MultiHeadAttention, scaled_dot_product_attention  # the reference, loaded by the worker

# --------------------------------------------------------------------------- scaled_dot_product_attention


def _scores(q: Tensor, k: Tensor, scale: bool = True) -> Tensor:
    scores = q @ k.transpose(-2, -1)  # (..., T_q, T_k)
    return scores / math.sqrt(q.size(-1)) if scale else scores


def _finish(weights: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    return weights @ v, weights


def sdpa_no_scaling(q, k, v, mask=None):
    scores = _scores(q, k, scale=False)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return _finish(weights, v)


def sdpa_mask_after_softmax(q, k, v, mask=None):
    weights = torch.softmax(_scores(q, k), dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)  # rows no longer sum to one
    return _finish(weights, v)


def sdpa_mask_inverted(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))  # hides exactly the keys it may see
    return _finish(torch.softmax(scores, dim=-1), v)


def sdpa_softmax_over_queries(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return _finish(torch.softmax(scores, dim=-2), v)


def sdpa_scaled_by_d_v(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(v.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return _finish(weights, v)


def sdpa_scaled_by_d_k(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.size(-1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return _finish(weights, v)


def sdpa_finite_fill(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)  # a query with no key gets uniform weights
    return _finish(torch.softmax(scores, dim=-1), v)


def sdpa_nan_rows(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # a query with no key gets NaN
    return _finish(torch.softmax(scores, dim=-1), v)


# --------------------------------------------------------------------------- MultiHeadAttention


class _Variant(MultiHeadAttention):
    """The reference module with switches for each way of getting it wrong."""

    attend = staticmethod(scaled_dot_product_attention)
    qkv_order = "qkv"  # how c_attn's output is read, GPT-2's order being q, k, v
    split_transposed = True
    merge_transposed = True
    causal_mask = "tril"  # "tril": 0..t; "strict": 0..t-1; "future": t..T-1; "none"
    use_mask = True
    combine_masks = True  # with causal=True: mask & causal, not the causal mask alone
    use_proj = True
    split = "nh_hs"  # "hs_nh": (B, T, C) viewed as (B, T, hs, nh), heads and head size swapped
    scale_by_d_model = False

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        B, T, C = x.size()
        nh, hs = self.n_heads, C // self.n_heads
        parts = dict(zip(self.qkv_order, self.c_attn(x).split(C, dim=2)))

        def heads(t: Tensor) -> Tensor:
            if self.split == "hs_nh":
                return t.view(B, T, hs, nh).transpose(1, 2)  # wrong: hs "heads" of size nh
            if self.split_transposed:
                return t.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
            return t.reshape(B, nh, T, hs)  # wrong: mixes positions and heads

        q, k, v = heads(parts["q"]), heads(parts["k"]), heads(parts["v"])
        if not self.use_mask:
            mask = None
        if self.causal and self.causal_mask != "none":
            ones = torch.ones(T, T, dtype=torch.bool, device=x.device)
            causal = {"tril": ones.tril(), "strict": ones.tril(-1), "future": ones.triu()}[self.causal_mask]
            mask = causal if mask is None or not self.combine_masks else mask & causal
        if self.scale_by_d_model:  # scores / sqrt(C): pre-scale q so that attend's 1/sqrt(hs) becomes 1/sqrt(C)
            q = q * math.sqrt(q.size(-1)) / math.sqrt(C)
        y, _ = self.attend(q, k, v, mask)  # (B, nh, T, hs)
        if self.merge_transposed:
            y = y.transpose(1, 2).contiguous().view(B, T, C)
        else:
            y = y.reshape(B, T, C)  # wrong: heads not moved back next to each other
        return self.c_proj(y) if self.use_proj else y


def variant(name: str, **switches) -> type:
    if "attend" in switches:
        switches["attend"] = staticmethod(switches["attend"])
    return type(name, (_Variant,), switches)


def _in_both(fn) -> dict:
    return {"scaled_dot_product_attention": fn, "MultiHeadAttention": variant(fn.__name__, attend=fn)}


def _order(order: str) -> dict:
    return {"MultiHeadAttention": variant(f"MHA_{order}", qkv_order=order)}


# Checked in this order; the first whose output matches is named.
MISTAKES = {
    "missing the 1/sqrt(d_k) scaling of the scores": _in_both(sdpa_no_scaling),
    "scores divided by d_k instead of sqrt(d_k)": _in_both(sdpa_scaled_by_d_k),
    # d_v == d_k inside MultiHeadAttention: this one only shows in the function.
    "scores scaled by 1/sqrt(d_v) instead of 1/sqrt(d_k) (d_k is q.size(-1))": {
        "scaled_dot_product_attention": sdpa_scaled_by_d_v
    },
    "mask applied after softmax: masked weights zeroed but the rows not renormalised "
    "(mask the scores before softmax)": _in_both(sdpa_mask_after_softmax),
    "mask polarity inverted (True means 'may attend', as in PyTorch)": _in_both(sdpa_mask_inverted),
    "softmax over the wrong dimension (normalise over the keys, dim=-1)": _in_both(sdpa_softmax_over_queries),
    # These two differ only for a query that may attend to no key, which the module
    # checks never create: no module variant needed.
    "masked scores filled with a large finite number instead of -inf: a query with no key "
    "to attend to gets uniform weights instead of zeros": {"scaled_dot_product_attention": sdpa_finite_fill},
    "a query with no key to attend to gets NaN (softmax of an all -inf row); "
    "the handout asks for zero weights and a zero output": {"scaled_dot_product_attention": sdpa_nan_rows},
    "heads split without transposing: view (B, T, C) as (B, T, nh, hs), then transpose(1, 2)": {
        "MultiHeadAttention": variant("MHA_split_no_transpose", split_transposed=False)
    },
    "heads merged without transposing back: transpose (B, nh, T, hs) to (B, T, nh, hs) before the view": {
        "MultiHeadAttention": variant("MHA_merge_no_transpose", merge_transposed=False)
    },
    "scores scaled by 1/sqrt(d_model); scale by 1/sqrt(d_k), d_k being the head size d_model // n_heads": {
        "MultiHeadAttention": variant("MHA_scaled_by_d_model", scale_by_d_model=True)
    },
    "heads split as (hs, nh): view (B, T, C) as (B, T, n_heads, head_size), not (B, T, head_size, n_heads)": {
        "MultiHeadAttention": variant("MHA_split_hs_nh", split="hs_nh")
    },
    "c_attn output read as (k, q, v); GPT-2's order is q, k, v": _order("kqv"),
    "c_attn output read as (q, v, k); GPT-2's order is q, k, v": _order("qvk"),
    "c_attn output read as (v, k, q); GPT-2's order is q, k, v": _order("vkq"),
    "with causal=True no causal mask takes effect (is it built and passed on, also when a mask is given, and does "
    "scaled_dot_product_attention apply it to the output too?)": {"MultiHeadAttention": variant("MHA_not_causal", causal_mask="none")},
    "causal mask hides the token itself: position t may attend to 0..t (tril, diagonal included)": {
        "MultiHeadAttention": variant("MHA_strict_causal", causal_mask="strict")
    },
    "causal mask upside down: position t attends to later positions (use tril, not triu)": {
        "MultiHeadAttention": variant("MHA_future_causal", causal_mask="future")
    },
    "forward's mask argument takes no effect (is it passed on, and does scaled_dot_product_attention apply it to "
    "the output too?)": {"MultiHeadAttention": variant("MHA_mask_ignored", use_mask=False)},
    "with causal=True the mask argument is replaced by the causal mask instead of combined with it (mask & causal)": {
        "MultiHeadAttention": variant("MHA_mask_replaced_when_causal", combine_masks=False)
    },
    "c_proj not applied to the attention output": {"MultiHeadAttention": variant("MHA_no_proj", use_proj=False)},
}
