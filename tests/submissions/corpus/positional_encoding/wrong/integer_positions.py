"""A student attempt, based on a finished exercise: sinusoidal positional encodings (Vaswani et al. 2017, section 3.5), interleaved."""

import torch
from torch import Tensor


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len <= 0:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}")
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model must be a positive even int (sin/cos come in pairs), got {d_model!r}")
    # float64 throughout: at position 4000 a float32 frequency is off by ~1e-7 relative,
    # i.e. ~4e-4 in the angle; computing in double and casting once keeps every entry exact.
    position = torch.arange(max_len).unsqueeze(1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d_model/2,)
    angle = position // torch.pow(10000.0, two_i / d_model)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)  # even columns: sin
    pe[:, 1::2] = torch.cos(angle)  # odd columns: cos of the same angle
    return pe.to(torch.float32)
