"""Wrong: shifts each row by the larger of its first and last entries, not by its maximum:
right whenever the maximum sits at an end, overflowing when it sits in the middle."""

import torch


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    n = x.size(dim)
    shift = torch.maximum(x.narrow(dim, 0, 1), x.narrow(dim, n - 1, 1))
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    e = (x - shift).exp()
    return e / e.sum(dim=dim, keepdim=True)
