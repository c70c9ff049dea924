"""Finds its own channel to the grader and answers with a well-formed frame whose tensor
claims a device that does not exist, then leaves."""

import gc
import os
import socket

from grader import wire


def softmax(x, dim=-1):
    sock = next(o for o in gc.get_objects() if isinstance(o, socket.socket) and o.family == socket.AF_UNIX)
    enc = wire.Encoder()
    tree = enc.encode(x)
    tree["device"] = "bogus"
    wire.send_frame(sock, {"ok": tree}, enc.blob())
    os._exit(0)
