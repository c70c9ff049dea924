"""Common decoder-block mistakes, kept so a failing check can name the one a student made.

Each variant is the reference block with one thing done wrong; the sub-modules keep their
names, so the same state dict loads into every variant and the check compares outputs
computed with identical weights.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from decoder_block import MLP, DecoderBlock


class _ExactGeluMLP(MLP):
    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))  # erf GELU


class _QuickGeluMLP(MLP):
    def forward(self, x: Tensor) -> Tensor:
        h = self.c_fc(x)
        return self.dropout(self.c_proj(h * torch.sigmoid(1.702 * h)))  # CLIP's quick GELU


class _ReluMLP(MLP):
    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(F.relu(self.c_fc(x))))


def _with_mlp(mlp_class: type) -> type:
    class Block(DecoderBlock):
        def __init__(self, d_model, n_heads, dropout=0.0, layer_norm_eps=1e-5):
            super().__init__(d_model, n_heads, dropout, layer_norm_eps)
            self.mlp = mlp_class(d_model, dropout)

    return Block


class _EpsOutsideSqrtLayerNorm(torch.nn.LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mean) / (var.sqrt() + self.eps) * self.weight + self.bias  # eps outside the root


class _EpsOutsideSqrt(DecoderBlock):
    def __init__(self, d_model, n_heads, dropout=0.0, layer_norm_eps=1e-5):
        super().__init__(d_model, n_heads, dropout, layer_norm_eps)
        self.ln_1 = _EpsOutsideSqrtLayerNorm(d_model, eps=layer_norm_eps)
        self.ln_2 = _EpsOutsideSqrtLayerNorm(d_model, eps=layer_norm_eps)


class _PostLN(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))


class _NoMlpResidual(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return self.mlp(self.ln_2(x))


class _NoAttnResidual(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        x = self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _LayerNormsSwapped(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_2(x))
        return x + self.mlp(self.ln_1(x))


class _SharedSecondLayerNorm(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_2(x))
        return x + self.mlp(self.ln_2(x))


class _ResidualAroundNormalised(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        h = self.ln_1(x)
        x = h + self.attn(h)
        h = self.ln_2(x)
        return h + self.mlp(h)


class _SharedLayerNorm(DecoderBlock):
    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_1(x))


def _own_attention(causal: bool = True, merge_transposed: bool = True) -> type:
    """The block with the attention written out, one switch per mistake: no causal mask, or
    the heads merged with a reshape straight from (B, nh, T, hs)."""

    class Block(DecoderBlock):
        def forward(self, x: Tensor) -> Tensor:
            B, T, C = x.size()
            attn = self.attn
            hs = C // attn.n_heads
            q, k, v = attn.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, attn.n_heads, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
            scores = q @ k.transpose(-2, -1) / hs**0.5
            if causal:
                scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            y = torch.softmax(scores, dim=-1) @ v  # (B, nh, T, hs)
            # Without the transpose, (B, nh, T, hs) is read as (B, T, C): heads and positions mix.
            y = y.transpose(1, 2).reshape(B, T, C) if merge_transposed else y.reshape(B, T, C)
            x = x + attn.c_proj(y)
            return x + self.mlp(self.ln_2(x))

    return Block


MISTAKES = {
    "post-LN: LayerNorm applied after the residual addition (GPT-2 is pre-LN: x = x + attn(ln_1(x)))": {
        "DecoderBlock": _PostLN
    },
    "no residual connection around the MLP (x = x + mlp(ln_2(x)), not x = mlp(ln_2(x)))": {
        "DecoderBlock": _NoMlpResidual
    },
    "no residual connection around the attention (x = x + attn(ln_1(x)), not x = attn(ln_1(x)))": {
        "DecoderBlock": _NoAttnResidual
    },
    "exact (erf) GELU instead of the tanh approximation (use F.gelu(x, approximate='tanh'))": {
        "DecoderBlock": _with_mlp(_ExactGeluMLP),
        "MLP": _ExactGeluMLP,
    },
    "quick GELU x * sigmoid(1.702 x) instead of GPT-2's tanh approximation (use F.gelu(x, approximate='tanh'))": {
        "DecoderBlock": _with_mlp(_QuickGeluMLP),
        "MLP": _QuickGeluMLP,
    },
    "ReLU instead of GELU in the MLP (GPT-2 uses the tanh-approximated GELU)": {
        "DecoderBlock": _with_mlp(_ReluMLP),
        "MLP": _ReluMLP,
    },
    "ln_1 and ln_2 swapped (ln_1 goes before the attention, ln_2 before the MLP)": {
        "DecoderBlock": _LayerNormsSwapped
    },
    "ln_1 used before both sub-layers (ln_2 belongs before the MLP)": {"DecoderBlock": _SharedLayerNorm},
    "ln_2 used before both sub-layers (ln_1 belongs before the attention)": {"DecoderBlock": _SharedSecondLayerNorm},
    "residual added to the normalised input (x = ln(x) + attn(ln(x))); add to the un-normalised x": {
        "DecoderBlock": _ResidualAroundNormalised
    },
    "attention is not causal: a position attends to later positions": {
        "DecoderBlock": _own_attention(causal=False)
    },
    "LayerNorm written with eps outside the square root: (x - mean) / (sqrt(var) + eps); it goes inside, "
    "(x - mean) / sqrt(var + eps), as in nn.LayerNorm": {"DecoderBlock": _EpsOutsideSqrt},
    "heads merged without transposing back: (B, nh, T, hs) goes to (B, T, nh, hs) (y.transpose(1, 2)) before the "
    "view to (B, T, C)": {"DecoderBlock": _own_attention(merge_transposed=False)},
}
