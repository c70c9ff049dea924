"""Correct, written differently: own LayerNorm, GELU formula and einsum attention with a mask buffer."""

import math

import torch
from torch import nn


class LayerNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class Attention(nn.Module):
    def __init__(self, d_model, n_heads, dropout):
        super().__init__()
        self.n_heads = n_heads
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)
        self.register_buffer("mask", torch.ones(1024, 1024).tril().bool(), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, T, self.n_heads, C // self.n_heads) for t in (q, k, v))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(C // self.n_heads)
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        weights = self.drop(scores.softmax(-1))
        y = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(B, T, C)
        return self.drop(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, d_model, dropout=0.0):
        super().__init__()
        self.c_fc = nn.Linear(d_model, 4 * d_model)
        self.c_proj = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_tanh(self.c_fc(x))))


class DecoderBlock(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, layer_norm_eps=1e-5):
        super().__init__()
        self.ln_1 = LayerNorm(d_model, layer_norm_eps)
        self.attn = Attention(d_model, n_heads, dropout)
        self.ln_2 = LayerNorm(d_model, layer_norm_eps)
        self.mlp = MLP(d_model, dropout)

    def forward(self, x):
        h = x + self.attn(self.ln_1(x))
        return h + self.mlp(self.ln_2(h))
