"""Exercise 4 — decoder block (course section 4: "The GPT-2 decoder block").

Build one block of GPT-2 (Radford et al. 2019, "Language Models are Unsupervised
Multitask Learners"; the layout of karpathy/minGPT and nanoGPT). A GPT is an embedding,
a stack of these blocks and a final LayerNorm; in exercise 6 you will load the real
GPT-2 weights into blocks built from this file, so the names below matter.

Write two classes:

``MLP(d_model, dropout=0.0)``
    ``c_fc``: ``nn.Linear(d_model, 4 * d_model)``, then GELU, then ``c_proj``:
    ``nn.Linear(4 * d_model, d_model)``, then dropout. The GELU is the **tanh
    approximation** GPT-2 was trained with (``F.gelu(x, approximate="tanh")``, or write
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))); the exact, erf-based ``F.gelu(x)``
    and ``nn.GELU()`` differ from it by up to ~1e-3 and are not what the checkpoint expects.

``DecoderBlock(d_model, n_heads, dropout=0.0, layer_norm_eps=1e-5)``
    Sub-modules ``ln_1`` (``nn.LayerNorm(d_model, eps=layer_norm_eps)``), ``attn``
    (``CausalSelfAttention(d_model, n_heads, dropout)``), ``ln_2`` (LayerNorm again) and
    ``mlp`` (``MLP(d_model, dropout)``). ``forward(x)`` with ``x`` of shape ``(B, T, C)``,
    ``C = d_model``, returns ``(B, T, C)``:

        x = x + attn(ln_1(x))
        x = x + mlp(ln_2(x))

    This is *pre*-LayerNorm: each sub-layer sees a normalised copy of the residual
    stream, and the stream itself (the ``x`` that is added to) is never normalised inside
    the block. The original transformer normalised after the addition (post-LN,
    ``x = ln(x + attn(x))``); GPT-2 does not.

Conventions:

- ``state_dict()`` keys are GPT-2's, as inside ``transformer.h.N.`` of a checkpoint:
  ``ln_1.weight``, ``ln_1.bias``, ``attn.c_attn.weight``, ``attn.c_attn.bias``,
  ``attn.c_proj.weight``, ``attn.c_proj.bias``, ``ln_2.weight``, ``ln_2.bias``,
  ``mlp.c_fc.weight``, ``mlp.c_fc.bias``, ``mlp.c_proj.weight``, ``mlp.c_proj.bias``.
  We use ``nn.Linear``, so a weight has shape (out, in) (GPT-2's Conv1D stores (in, out);
  exercise 6 transposes). Build the causal mask in ``forward`` or register it with
  ``persistent=False``, so it does not appear among the keys.
- ``dropout`` is used in training mode only (``nn.Dropout`` does this for you); the checks
  compare outputs in eval mode or with ``dropout=0.0``.
- Do not modify ``x`` in place (``x += ...`` would change the caller's tensor).

Attention is given, not asked: ``CausalSelfAttention`` below is complete and correct (it
calls ``F.scaled_dot_product_attention(..., is_causal=True)``), so a mistake in the
attention exercise cannot cost you points here. You may replace it with your own
multi-head attention from exercise 2 if you like (``from attention import ...``, with your
attention.py beside this file, or pasted in), as long as it keeps the names ``c_attn``
(``d_model -> 3 * d_model``, q, k, v in that order) and ``c_proj``; the checks then test
it as part of the block (causality included).

Check your work with ``grade exercise decoder_block``.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CausalSelfAttention(nn.Module):
    """GIVEN (complete): multi-head causal self-attention with GPT-2's parameter names."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.dropout = dropout
        self.c_attn = nn.Linear(d_model, 3 * d_model)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(d_model, d_model)  # mixes the heads' outputs
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.size()
        hs = C // self.n_heads
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        # softmax(q k^T / sqrt(hs)) v, position t attending to positions <= t only
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        # create c_fc (d_model -> 4 d_model), c_proj (4 d_model -> d_model) and the dropout
        raise NotImplementedError("MLP.__init__: create c_fc, c_proj and the dropout")

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, T, C) -> (B, T, 4C) -> tanh-GELU -> (B, T, C) -> dropout
        raise NotImplementedError("MLP.forward: c_fc, tanh-approximated GELU, c_proj, dropout")


class DecoderBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, layer_norm_eps: float = 1e-5):
        super().__init__()
        # create ln_1, attn (the CausalSelfAttention above), ln_2 and mlp
        raise NotImplementedError("DecoderBlock.__init__: create ln_1, attn, ln_2 and mlp")

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, T, C) -> (B, T, C); pre-LN with a residual around each sub-layer
        raise NotImplementedError("DecoderBlock.forward: x + attn(ln_1(x)), then x + mlp(ln_2(x))")
