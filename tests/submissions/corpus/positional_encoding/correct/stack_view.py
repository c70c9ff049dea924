"""A student attempt."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError(f"bad sizes {max_len}, {d_model}")
    p = torch.arange(max_len, dtype=torch.float64)
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    a = torch.outer(p, freq)
    return torch.stack([a.sin(), a.cos()], dim=-1).view(max_len, d_model).float()
