"""A correct softmax returned as float8: torch can hold it, but not promote, compare or test
it for NaN. The failure is the submission's ('cannot compute with'), not the grader's."""

import torch


def softmax(x, dim=-1):
    e = (x - x.amax(dim, keepdim=True)).exp()
    return (e / e.sum(dim, keepdim=True)).to(torch.float8_e4m3fn)
