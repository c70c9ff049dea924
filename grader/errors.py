"""Errors raised on the trusted side of the worker boundary.

A :class:`StudentError` is an AssertionError, so a check that calls broken submitted
code fails with the message rather than erroring; a :class:`ReferenceFailure` means the
grader itself failed (or a check expected the reference to raise).
"""

from __future__ import annotations


class RemoteError(Exception):
    """Code in a worker raised, or the worker itself failed."""

    def __init__(self, message: str, type_name: str = "", where: str = ""):
        super().__init__(message)
        self.type_name = type_name
        self.where = where


class StudentError(RemoteError, AssertionError):
    """The submission raised, failed to import, hung or crashed its worker."""


class ReferenceFailure(RemoteError):
    """The reference raised (a bug in a check or solution; or an expected error)."""


class KitOutOfDate(RemoteError):
    """A replayed reference was asked something the release never recorded."""


def format_error(subject: str, err: dict) -> str:
    type_name, message, where = err.get("type", "Exception"), err.get("message", ""), err.get("where", "")
    stub = err.get("stub")
    if type_name == "NotImplementedError" and isinstance(stub, str) and stub:
        # Raised in another of the student's files (gpt2_loading -> decoder_block.py): that
        # file is the one to finish, not the function the check called.
        detail = f"NotImplementedError{': ' + message if message else ''}; {subject} needs it: finish that exercise first"
        text = f"your {stub} is not implemented yet ({detail})"
    elif type_name == "NotImplementedError":
        text = f"{subject} is not implemented yet (NotImplementedError{': ' + message if message else ''})"
    elif type_name == "SystemExit":
        text = f"{subject} {message}: submissions must not exit the process"
    else:
        text = f"{subject} raised {type_name}: {message}"
    if where:
        text += f" [at {where}]"
    return text
