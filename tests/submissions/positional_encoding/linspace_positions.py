"""Wrong: positions from torch.linspace(0, max_len, max_len), a step slightly over 1."""
import math

import torch
from torch import Tensor


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    if not isinstance(max_len, int) or max_len <= 0:
        raise ValueError(f"max_len must be a positive int, got {max_len}")
    if not isinstance(d_model, int) or d_model <= 0 or d_model % 2 != 0:
        raise ValueError(f"d_model must be a positive even int, got {d_model}")
    pe = torch.zeros(max_len, d_model)
    position = torch.linspace(0, max_len, max_len).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe
