"""A student attempt at softmax."""

import torch
from torch import Tensor


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    while True:
        pass
