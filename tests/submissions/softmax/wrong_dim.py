import torch


def softmax(x, dim=-1):
    # Always normalises over dim 0.
    e = (x - x.amax(dim=0, keepdim=True)).exp()
    return e / e.sum(dim=0, keepdim=True)
