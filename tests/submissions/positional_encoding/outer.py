"""Correct, written with torch.outer and stack/flatten for the interleaving, float64 inside."""

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    if d_model < 1 or d_model % 2:
        raise ValueError("d_model must be a positive even number")
    if max_len < 1:
        raise ValueError("max_len must be positive")
    freqs = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angles = torch.outer(torch.arange(max_len, dtype=torch.float64), freqs)  # (max_len, d_model/2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1).float()
