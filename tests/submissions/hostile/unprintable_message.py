"""Raises with a message no file format can hold as it is: a lone surrogate (not UTF-8),
terminal escapes (clear the screen, red), NUL and a right-to-left override, from an
exception class whose name holds one too."""

BoomError = type("Boom\u202eError", (Exception,), {})


def softmax(x, dim=-1):
    raise BoomError("lone \ud800 surrogate, \x1b[2J\x1b[31m escapes, \x00 NUL, \u202e reversed")
