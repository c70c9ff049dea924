"""Exercise 1 — softmax (course section 1: "Softmax and the log-sum-exp trick").

Write ``softmax(x, dim)`` with plain tensor operations (no ``torch.softmax``,
``torch.nn.functional.softmax`` or ``torch.special`` shortcuts: the point is to write it).

    softmax(x)_i = exp(x_i) / sum_j exp(x_j)        along dimension ``dim``

Conventions:

- ``x`` has any shape and any floating dtype; the result has the same shape and dtype.
- ``dim`` may be negative (``-1`` is the last dimension).
- Numerically stable: subtract the maximum along ``dim`` before ``exp`` so that
  ``softmax(torch.tensor([1e4, 0.0]))`` is ``[1, 0]``, not ``[nan, 0]``. Subtracting a
  constant does not change the result, because it cancels between numerator and denominator.
- Do not modify ``x`` in place, and keep the result differentiable (no ``.detach()``,
  ``.data`` or ``torch.no_grad()``).

Check your work with ``grade exercise softmax``.
"""

import torch
from torch import Tensor


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    # x: (..., n, ...) with n = x.size(dim); returns the same shape, rows summing to 1 along dim
    raise NotImplementedError("softmax: write the numerically stable softmax")
