"""A student attempt at softmax."""

import torch
from torch import Tensor


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    m = torch.max(x, dim=dim, keepdim=True).values
    e = torch.exp(x - m)
    return e * (1.0 / e.sum(dim=dim, keepdim=True))
