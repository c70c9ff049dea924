"""Answers each call with JSON nested far deeper than any reply of ours (the trusted side's
parser would run out of stack), then leaves."""

import os
import struct


def softmax(x, dim=-1):
    doc = b'{"ok": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    os.write(3, struct.pack("!4sII", b"GRD1", len(doc), 0) + doc)
    os._exit(0)
