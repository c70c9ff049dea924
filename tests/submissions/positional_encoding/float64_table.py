"""One mistake: the tutorial's table, returned in float64 (a dtype slip)."""

import math

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if d_model <= 0 or d_model % 2 != 0:
        raise ValueError("d_model must be positive and even")
    if max_len <= 0:
        raise ValueError("max_len must be positive")
    pe = torch.zeros(max_len, d_model)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.double()
