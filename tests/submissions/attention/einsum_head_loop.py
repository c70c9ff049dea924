"""Correct, written differently: einsum, a finite fill with the empty rows zeroed, a loop over heads."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.einsum("...id,...jd->...ij", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), torch.finfo(scores.dtype).min)
    weights = F.softmax(scores, dim=-1)
    if mask is not None:
        # rows that may attend to nothing came out uniform: they attend to nothing
        weights = weights * mask.any(dim=-1, keepdim=True) * mask
    return torch.einsum("...ij,...jd->...id", weights, v), weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.d_model, self.n_heads, self.causal = d_model, n_heads, causal
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        hs = C // self.n_heads
        qkv = self.c_attn(x)
        allowed = mask
        if self.causal:
            future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
            allowed = ~future if allowed is None else allowed & ~future
        outputs = []
        for h in range(self.n_heads):
            q = qkv[..., h * hs:(h + 1) * hs]  # (B, T, hs)
            k = qkv[..., C + h * hs:C + (h + 1) * hs]
            v = qkv[..., 2 * C + h * hs:2 * C + (h + 1) * hs]
            head_mask = None
            if allowed is not None:
                head_mask = allowed if allowed.dim() < 4 else allowed[:, min(h, allowed.size(1) - 1)]
            y, _ = scaled_dot_product_attention(q, k, v, head_mask)
            outputs.append(y)
        return self.c_proj(torch.cat(outputs, dim=-1))
