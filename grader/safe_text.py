"""Text a submission chose, made safe to show and to write anywhere.

A student's exception message, exception type name, printed output or file name reaches
terminals, CSV, HTML, XML and JSON. Whatever it holds, what we show is plain printable
text, the same everywhere:

- control characters (C0 but tab and newline, DEL, C1) would move a terminal's cursor,
  clear the screen or set its title from ``cat feedback.txt``, and make junit.xml
  unreadable (XML 1.0 forbids them);
- bidi controls would reorder what follows them on the line (a right-to-left override in
  a message can make "0/16" read "61/0");
- lone surrogates (JSON's ``"\\ud800"``, or a file name that is not UTF-8) cannot be
  encoded as UTF-8 at all, so the first file write would fail;
- U+FFFE and U+FFFF are not characters.

Each is shown as its escape (``\\x1b``, ``\\u202e``, ``\\udc80``), so the text stays
readable and nothing is silently lost.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` (anything: it is str()-ed) with every unsafe character shown as its escape."""
    text = text if type(text) is str else str(text)
    return _UNSAFE.sub(_escape, text)


def printable_tree(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every string, keys too,
    made :func:`printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_tree(v) for v in value]
    return value


__all__ = ["printable", "printable_tree"]
