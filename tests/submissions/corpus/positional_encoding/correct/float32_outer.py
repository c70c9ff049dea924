"""A student attempt."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError(f"bad sizes {max_len}, {d_model}")
    pos = torch.arange(max_len).float()
    inv = 1.0 / (10000 ** (torch.arange(0, d_model, 2).float() / d_model))
    a = pos[:, None] * inv[None, :]
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(a)
    pe[:, 1::2] = torch.cos(a)
    return pe
