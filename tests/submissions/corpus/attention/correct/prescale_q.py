"""A student attempt, based on a finished exercise: scaled dot-product attention and GPT-2 style multi-head attention.

Vaswani et al. 2017, "Attention Is All You Need", section 3.2; the module follows
minGPT's ``CausalSelfAttention`` (karpathy/minGPT ``mingpt/model.py``) and GPT-2's
parameter names, so the same weights load into it.
"""

import math

import torch
import torch.nn as nn
from torch import Tensor


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    # q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v); mask broadcasts to (..., T_q, T_k)
    d_k = q.size(-1)
    scores = (q / math.sqrt(d_k)) @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k), over the keys
    if mask is not None:
        # A query that may attend to no key has an all -inf row, which softmax turns
        # into NaN. The convention (PyTorch's too) is that it attends to nothing.
        weights = weights.masked_fill(~mask, 0.0)
    output = weights @ v  # (..., T_q, d_v)
    return output, weights


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with GPT-2's parameter names (``c_attn``, ``c_proj``)."""

    def __init__(self, d_model: int, n_heads: int, causal: bool = False):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model = d_model
        self.n_heads = n_heads
        self.causal = causal
        # q, k and v projections for all heads in one matmul, in that order (as GPT-2).
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        B, T, C = x.size()  # batch, sequence length, d_model
        hs = C // self.n_heads

        q, k, v = self.c_attn(x).split(self.d_model, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)

        if self.causal:
            # Position t may attend to positions 0..t (itself included).
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # (T, T)
            mask = causal if mask is None else mask & causal
        y, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, nh, T, hs)

        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads: (B, T, C)
        return self.c_proj(y)
