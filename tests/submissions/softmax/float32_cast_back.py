"""One mistake: computed in float32 and cast back to the input's dtype (right dtype, float32's precision)."""
import torch


def softmax(x, dim=-1):
    x32 = x.float()
    e = torch.exp(x32 - x32.amax(dim=dim, keepdim=True))
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)
