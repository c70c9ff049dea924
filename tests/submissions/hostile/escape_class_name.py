"""Returns an object whose class name holds terminal escapes (retitle the window, clear the
screen, print a fake score) and a right-to-left override: the message names the type as text."""

_Evil = type("E\x1b]0;PWNED\x07\x1b[2J\x1b[1;31mFAKE: 16/16 points\u202e", (), {})


def softmax(x, dim=-1):
    return _Evil()
