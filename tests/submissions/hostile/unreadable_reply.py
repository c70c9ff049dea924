"""Answers each call with a whole frame no worker of ours would send (a dtype that does not
exist), then leaves: the failure is this submission's, never the grader's."""

import json
import os
import struct


def softmax(x, dim=-1):
    doc = json.dumps({"ok": {"__dtype__": "nonsense"}}).encode()
    os.write(3, struct.pack("!4sII", b"GRD1", len(doc), 0) + doc)
    os._exit(0)
