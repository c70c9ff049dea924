"""A student attempt at softmax."""

import torch
from torch import Tensor


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    shifted = torch.sub(x, torch.amax(x, dim=dim, keepdim=True))
    numerator = torch.exp(shifted)
    return torch.div(numerator, torch.sum(numerator, dim=dim, keepdim=True))
