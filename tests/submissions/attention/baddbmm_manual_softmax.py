"""Correct, written differently: baddbmm on flattened batches, a logsumexp softmax, permute/reshape."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(q, k, v, mask=None):
    *batch, t_q, d_k = q.shape
    t_k, d_v = k.shape[-2], v.shape[-1]
    q3 = q.reshape(-1, t_q, d_k)
    k3 = k.reshape(-1, t_k, d_k)
    bias = torch.zeros(q3.shape[0], t_q, t_k, dtype=q.dtype, device=q.device)
    scores = torch.baddbmm(bias, q3, k3.transpose(1, 2), alpha=1 / math.sqrt(d_k)).view(*batch, t_q, t_k)
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device))
    weights = torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))
    weights = torch.nan_to_num(weights, nan=0.0)
    out = torch.bmm(weights.reshape(-1, t_q, t_k), v.reshape(-1, t_k, d_v))
    return out.view(*weights.shape[:-2], t_q, d_v), weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.n_heads = n_heads
        self.causal = causal
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        qkv = F.linear(x, self.c_attn.weight, self.c_attn.bias)
        qkv = qkv.reshape(B, T, 3, self.n_heads, C // self.n_heads).permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        q, k, v = qkv.unbind(0)
        if self.causal:
            keep = torch.arange(T, device=x.device)[None, :] <= torch.arange(T, device=x.device)[:, None]
            mask = keep if mask is None else torch.logical_and(mask, keep)
        y, _ = scaled_dot_product_attention(q, k, v, mask)
        y = y.permute(0, 2, 1, 3).reshape(B, T, C)
        return self.c_proj(y)
