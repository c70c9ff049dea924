"""Correct, written differently: move dim last, loop over rows in Python."""
import math

import torch


def softmax(x, dim=-1):
    moved = x.movedim(dim, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    out = []
    for row in rows:
        m = row.max()
        e = torch.exp(row - m)
        out.append(e / e.sum())
    result = torch.stack(out) if out else rows.clone()
    return result.reshape(moved.shape).movedim(-1, dim)
