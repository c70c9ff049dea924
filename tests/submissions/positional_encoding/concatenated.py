"""Wrong: [sin | cos] halves instead of interleaved columns (float32 throughout)."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if d_model <= 0 or d_model % 2 or max_len <= 0:
        raise ValueError("bad sizes")
    pos = torch.arange(max_len).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return torch.cat([angle.sin(), angle.cos()], dim=1)
