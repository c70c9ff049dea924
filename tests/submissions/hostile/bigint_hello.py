"""Writes a hello at import that Python cannot parse (an int of 5,000 digits: ValueError,
not a JSON error), then waits: the worker was never handed back to the grader, so nothing
killed it, and in a batch it kept running through the classmates graded after."""

import os
import struct
import time

doc = b'{"ready": true, "x": ' + b"1" * 5000 + b"}"
os.write(3, struct.pack("!4sII", b"GRD1", len(doc), 0) + doc)
time.sleep(60)
