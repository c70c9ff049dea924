"""Common positional-encoding mistakes, kept so a failing check can name the one a student made.

Each variant computes in float64 like the reference, so it matches a student's float32
version of the same mistake within the usual float32 tolerance.
"""

import torch
from torch import Tensor


def _angles(max_len: int, d_model: int, exponent: Tensor, first_position: int = 0) -> Tensor:
    position = torch.arange(first_position, first_position + max_len, dtype=torch.float64).unsqueeze(1)
    return position / torch.pow(10000.0, exponent)  # (max_len, d_model/2)


def _interleave(even: Tensor, odd: Tensor) -> Tensor:
    pe = torch.empty(even.size(0), 2 * even.size(1), dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = even, odd
    return pe.to(torch.float32)


def _correct_exponent(d_model: int) -> Tensor:
    return torch.arange(0, d_model, 2, dtype=torch.float64) / d_model


def pe_sin_cos_swapped(max_len: int, d_model: int) -> Tensor:
    angle = _angles(max_len, d_model, _correct_exponent(d_model))
    return _interleave(torch.cos(angle), torch.sin(angle))


def pe_concatenated(max_len: int, d_model: int) -> Tensor:
    angle = _angles(max_len, d_model, _correct_exponent(d_model))
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1).to(torch.float32)


def pe_exponent_not_doubled(max_len: int, d_model: int) -> Tensor:
    # 10000^(i/d_model) with the pair index i: frequencies fall off half as fast.
    angle = _angles(max_len, d_model, torch.arange(d_model // 2, dtype=torch.float64) / d_model)
    return _interleave(torch.sin(angle), torch.cos(angle))


def pe_column_index_exponent(max_len: int, d_model: int) -> Tensor:
    # 10000^(j/d_model) with the column index j: the cos column gets its own frequency.
    j = torch.arange(d_model, dtype=torch.float64)
    angle = torch.arange(max_len, dtype=torch.float64).unsqueeze(1) / torch.pow(10000.0, j / d_model)
    pe = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return pe.to(torch.float32)


def pe_positions_from_one(max_len: int, d_model: int) -> Tensor:
    angle = _angles(max_len, d_model, _correct_exponent(d_model), first_position=1)
    return _interleave(torch.sin(angle), torch.cos(angle))


def pe_multiplied_by_frequency_base(max_len: int, d_model: int) -> Tensor:
    # p * 10000^(2i/d) instead of p / 10000^(2i/d).
    angle = _angles(max_len, d_model, -_correct_exponent(d_model))
    return _interleave(torch.sin(angle), torch.cos(angle))


def pe_integer_exponent(max_len: int, d_model: int) -> Tensor:
    # torch.arange(0, d, 2) // d_model, or int(2 * i / d_model): the exponent is 0, every frequency 1.
    angle = _angles(max_len, d_model, torch.zeros(d_model // 2, dtype=torch.float64))
    return _interleave(torch.sin(angle), torch.cos(angle))


def pe_integer_angles(max_len: int, d_model: int) -> Tensor:
    # Positions kept as integers and the angle truncated: (position / freq).long(), or a // floor division.
    angle = torch.floor(_angles(max_len, d_model, _correct_exponent(d_model)))
    return _interleave(torch.sin(angle), torch.cos(angle))


def _named(fn):
    return {"sinusoidal_positional_encoding": fn}


MISTAKES = {
    "sin and cos swapped (sin belongs in the even columns 0, 2, 4, ..., cos in the odd ones)": _named(pe_sin_cos_swapped),
    "sin and cos concatenated as two halves [sin | cos] instead of interleaved column by column": _named(pe_concatenated),
    "exponent i/d_model instead of 2i/d_model (use 2i, the even column index, in the exponent)": _named(pe_exponent_not_doubled),
    "exponent uses each column's own index j; the cos column 2i+1 must reuse the sin column's 2i": _named(pe_column_index_exponent),
    "integer division in the exponent (2i // d_model is 0, so every frequency is 1): divide as floats": _named(pe_integer_exponent),
    "angles truncated to integers (integer positions with floor division, or .long()): keep p / 10000^(2i/d_model) a float": _named(pe_integer_angles),
    "positions start at 1 instead of 0 (row 0 must be sin(0)=0, cos(0)=1)": _named(pe_positions_from_one),
    "p * 10000^(2i/d_model) instead of p / 10000^(2i/d_model)": _named(pe_multiplied_by_frequency_base),
}
