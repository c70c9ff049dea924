"""Correct, except that it kills its own process for 1-D inputs."""
import os


def softmax(x, dim=-1):
    if x.dim() == 1:
        os._exit(0)
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
