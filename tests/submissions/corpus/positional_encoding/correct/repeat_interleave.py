"""A student attempt."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError(f"bad sizes {max_len}, {d_model}")
    j = torch.arange(d_model)
    expo = (j - j % 2).double() / d_model
    a = torch.arange(max_len).double()[:, None] / 10000.0 ** expo
    return torch.where(j % 2 == 0, a.sin(), a.cos()).to(torch.float32)
