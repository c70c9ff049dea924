"""A student attempt."""

import math

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if not isinstance(max_len, int) or max_len <= 0 or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError(f"bad sizes {max_len}, {d_model}")
    rows = []
    for p in range(max_len):
        row = []
        for i in range(0, d_model, 2):
            a = p / 10000 ** (i / d_model)
            row += [math.sin(a), math.cos(a)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32)
