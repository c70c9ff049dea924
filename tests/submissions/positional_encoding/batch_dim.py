"""Wrong: the table gets a leading batch dimension, (1, max_len, d_model), as tutorials that
add it to embeddings do; the handout asks for (max_len, d_model)."""

import torch


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    if not isinstance(max_len, int) or max_len <= 0:
        raise ValueError(f"max_len must be a positive int, got {max_len}")
    if not isinstance(d_model, int) or d_model <= 0 or d_model % 2 != 0:
        raise ValueError(f"d_model must be a positive even int, got {d_model}")
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    angle = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = angle.sin()
    pe[:, 1::2] = angle.cos()
    return pe.float().unsqueeze(0)  # (1, max_len, d_model) so it broadcasts over the batch
