"""Kills its parent (the zygote) and itself on 1-D input; correct otherwise."""
import os, signal


def softmax(x, dim=-1):
    if x.dim() == 1:
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(3)
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
