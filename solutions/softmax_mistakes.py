"""Common softmax mistakes, kept so a failing check can name the one a student made."""

import torch
from torch import Tensor


def softmax_wrong_dim(x: Tensor, dim: int = -1) -> Tensor:
    # Normalises over the first dimension whatever dim says.
    other = 0 if (dim % max(x.dim(), 1)) != 0 else -1
    shifted = x - x.amax(dim=other, keepdim=True)
    return shifted.exp() / shifted.exp().sum(dim=other, keepdim=True)


def softmax_no_max_subtraction(x: Tensor, dim: int = -1) -> Tensor:
    return x.exp() / x.exp().sum(dim=dim, keepdim=True)


def softmax_global(x: Tensor, dim: int = -1) -> Tensor:
    shifted = x - x.max()
    return shifted.exp() / shifted.exp().sum()


def softmax_missing_normalisation(x: Tensor, dim: int = -1) -> Tensor:
    return (x - x.amax(dim=dim, keepdim=True)).exp()


MISTAKES = {
    "softmax taken over the wrong dimension (check the dim argument)": {"softmax": softmax_wrong_dim},
    "no max subtraction: exp() overflows for large inputs": {"softmax": softmax_no_max_subtraction},
    "normalised over the whole tensor instead of along dim": {"softmax": softmax_global},
    "exp() not divided by the sum along dim": {"softmax": softmax_missing_normalisation},
}
