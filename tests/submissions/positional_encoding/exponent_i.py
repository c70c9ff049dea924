"""Wrong: exponent i/d_model with the pair index (not 2i/d_model)."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if d_model <= 0 or d_model % 2 or max_len <= 0:
        raise ValueError("bad sizes")
    pos = torch.arange(max_len).float()[:, None]
    i = torch.arange(d_model // 2).float()
    angle = pos / 10000 ** (i / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = angle.sin()
    pe[:, 1::2] = angle.cos()
    return pe
