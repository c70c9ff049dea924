"""Correct, written with plain Python loops and the math module."""

import math

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if not (d_model > 0 and d_model % 2 == 0 and max_len > 0):
        raise ValueError(f"bad sizes: max_len={max_len}, d_model={d_model}")
    rows = []
    for p in range(max_len):
        row = []
        for i in range(d_model // 2):
            angle = p / 10000 ** (2 * i / d_model)
            row += [math.sin(angle), math.cos(angle)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32)
