"""Errors raised on the trusted side of the worker boundary.

A :class:`StudentError` is an AssertionError, so a check that calls broken submitted
code fails with the message rather than erroring; a :class:`ReferenceFailure` means the
grader itself failed (or a check expected the reference to raise).
"""

from __future__ import annotations

import re
from typing import Any


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


def error_doc(err: Any) -> dict[str, str]:
    """The error a worker described (type, message, where; ``stub``: the submitted file a
    NotImplementedError came from) as strings. A student's worker may send anything in its
    place: whatever it sent becomes the message, never a failure here. (Every check message
    is made printable where the plugin records it.)"""
    err = err if isinstance(err, dict) else {"message": err}
    # ``library``: a NotImplementedError raised inside a library call, not by a stub.
    # ``missing``: a top-level name the submitted module does not define (nothing raised);
    # ``returned``: the message says what the code returned (nothing raised either).
    defaults = {"type": "Exception", "message": "", "where": "", "stub": "", "library": "", "missing": "", "returned": ""}
    return {k: str(err.get(k) if err.get(k) is not None else default) for k, default in defaults.items()}


def is_stub(err: dict[str, str]) -> bool:
    """Whether an error (error_doc) says the code is not written yet: a NotImplementedError
    its own ``raise`` raised, not one from inside a library call (torch's "not implemented
    for 'Long'")."""
    return err["type"] == "NotImplementedError" and not err["library"]


def outcome_type(err: dict[str, str]) -> str:
    """The type name a StudentError carries for ``err`` (the plugin's outcome follows it)."""
    return err["type"] if is_stub(err) or err["type"] != "NotImplementedError" else "NotImplementedError (library)"


def format_error(subject: str, err: Any, owner: str = "") -> str:
    """The message for code that raised, from the error its worker described; ``owner``: the
    module ``subject`` belongs to ("your decoder_block.py"), for a name it does not define."""
    err = error_doc(err)
    type_name, where, stub = err["type"], err["where"], err["stub"]
    # One line: torch's multi-line errors ("Error(s) in loading state_dict ...:\n\tMissing key(s)").
    message = re.sub(r"\s*\n\s*", " ", err["message"].strip())
    if err["missing"]:
        text = f"{owner or 'the submitted module'} defines no {err['missing']} ({message})"
    elif err["returned"]:
        text = f"{subject} returned {message}"
    elif is_stub(err) and stub:
        # Raised in another of the student's files (gpt2_loading -> decoder_block.py): that
        # file is the one to finish, not the function the check called.
        detail = f"NotImplementedError{': ' + message if message else ''}; {subject} needs it: finish that exercise first"
        text = f"your {stub} is not implemented yet ({detail})"
    elif is_stub(err):
        text = f"{subject} is not implemented yet (NotImplementedError{': ' + message if message else ''})"
    elif type_name == "SystemExit":
        text = f"{subject} {message}: submissions must not exit the process"
    else:
        text = f"{subject} raised {type_name}: {message}"
    if where:
        text += f" [at {where}]"
    return text
