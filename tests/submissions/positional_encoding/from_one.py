"""Wrong: positions 1..max_len instead of 0..max_len-1."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if d_model <= 0 or d_model % 2 or max_len <= 0:
        raise ValueError("bad sizes")
    pos = torch.arange(1, max_len + 1, dtype=torch.float64)[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe.float()
