"""A correct softmax returned as complex numbers: they have no order (out >= 0 raises inside
torch), so the checks cannot compare them. The failure is the submission's, not the grader's."""

import torch


def softmax(x, dim=-1):
    e = (x - x.amax(dim, keepdim=True)).exp()
    return (e / e.sum(dim, keepdim=True)).to(torch.complex64)
