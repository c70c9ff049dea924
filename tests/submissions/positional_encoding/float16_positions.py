"""Wrong for long sequences: positions held in float16 (spacing 2 above 2048, 4 above 4096)."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if d_model <= 0 or d_model % 2 or max_len <= 0:
        raise ValueError("bad sizes")
    pos = torch.arange(max_len, dtype=torch.float16).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe
