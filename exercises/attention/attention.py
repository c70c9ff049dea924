"""Exercise 2 — attention (course section 2: "Scaled dot-product and multi-head attention").

Vaswani et al. 2017, "Attention Is All You Need", section 3.2. Two parts.

Part 1: ``scaled_dot_product_attention(q, k, v, mask=None) -> (output, weights)``

    weights = softmax(q @ k^T / sqrt(d_k))        softmax over the keys (the last dim)
    output  = weights @ v

Shapes (``...`` is any number of leading batch dimensions, the same for q, k and v)::

    q        (..., T_q, d_k)     one row per query
    k        (..., T_k, d_k)     one row per key
    v        (..., T_k, d_v)     one row per key; d_v may differ from d_k
    mask     broadcastable to (..., T_q, T_k), e.g. (T_q, T_k) or (B, 1, 1, T_k)
    weights  (..., T_q, T_k)     each row sums to one over the keys
    output   (..., T_q, d_v)

Conventions:

- ``mask`` is a boolean tensor or None. **True means "may attend"** (PyTorch's
  convention): where ``mask[..., i, j]`` is False, query i gets weight exactly 0 on key j,
  so changing that key or its value changes nothing. Mask the *scores* before the
  softmax (fill with ``-inf``), so that the remaining weights still sum to one.
- A query that may attend to no key at all (a row of the mask that is all False) gets
  all-zero weights and an all-zero output row, as
  ``torch.nn.functional.scaled_dot_product_attention`` does. A plain ``-inf`` fill gives
  NaN there (softmax of an all ``-inf`` row): set those weights to 0 afterwards.
- Scale by ``1 / sqrt(d_k)`` with ``d_k = q.size(-1)``.
- You may use ``torch.softmax`` here (you wrote your own in exercise 1; ``from softmax
  import softmax`` works too, with your softmax.py beside this file). Do not call
  ``torch.nn.functional.scaled_dot_product_attention`` or ``nn.MultiheadAttention``:
  the point is to write them.
- Keep the dtype of the inputs, do not modify q, k, v or mask in place, and keep the
  result differentiable (no ``.detach()``, ``.data`` or ``torch.no_grad()``).

Part 2: ``class MultiHeadAttention(nn.Module)``, GPT-2 style self-attention.

- ``__init__(d_model, n_heads, causal=False)`` creates exactly two layers, named as in
  GPT-2 so that GPT-2 weights load into them later in the course:
  ``self.c_attn = nn.Linear(d_model, 3 * d_model)`` (q, k and v for all heads in one
  matmul, in that order) and ``self.c_proj = nn.Linear(d_model, d_model)``.
  ``d_model`` is divisible by ``n_heads``; each head has ``hs = d_model // n_heads``.
- ``forward(x, mask=None)``: x is (B, T, d_model); returns (B, T, d_model)::

      q, k, v = self.c_attn(x).split(d_model, dim=2)   # 3 x (B, T, C)
      # split heads: (B, T, C) -> (B, T, nh, hs) -> transpose -> (B, nh, T, hs)
      # attend with your scaled_dot_product_attention     # (B, nh, T, hs)
      # merge heads: (B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C)
      # project with c_proj                                # (B, T, C)

- ``causal=True``: position t may attend to positions 0..t (itself included), never to
  later ones, so its output does not depend on later tokens.
- ``mask`` (optional) is boolean, broadcastable to (B, nh, T, T), True = may attend;
  e.g. (B, 1, 1, T) hides padded keys. With ``causal=True`` both masks apply.
- No dropout, no other parameters: the state_dict has exactly ``c_attn.weight``,
  ``c_attn.bias``, ``c_proj.weight`` and ``c_proj.bias``.

Check your work with ``grade exercise attention``.
"""

import math

import torch
import torch.nn as nn
from torch import Tensor


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    # q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v), mask broadcastable to (..., T_q, T_k)
    # returns output (..., T_q, d_v) and weights (..., T_q, T_k)
    raise NotImplementedError("scaled_dot_product_attention: write softmax(q k^T / sqrt(d_k)) v")


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, causal: bool = False):
        super().__init__()
        # create self.c_attn and self.c_proj (see the docstring at the top)
        raise NotImplementedError("MultiHeadAttention.__init__: create c_attn and c_proj")

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        B, T, C = x.size()  # batch size, sequence length, d_model
        raise NotImplementedError("MultiHeadAttention.forward: split heads, attend, merge heads, project")
