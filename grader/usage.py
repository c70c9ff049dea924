"""The one kind of error every ``grade`` command raises for bad input: one line, exit code 2.

Library code raises its own errors (SubmissionError, BatchError, ReleaseError, ...); the
thin command layer turns each into this, so a user never sees a traceback.
"""

from __future__ import annotations

import click

from grader.safe_text import printable


class UsageError(click.ClickException):
    """A usage error (unknown exercise, missing file, contradictory options): exit code 2.

    The message often quotes what a submission holds (a notebook's metadata, a file name):
    it is shown as printable text (grader.safe_text), never as terminal escapes."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(printable(message))


def exercise_names(value: str | None) -> list[str] | None:
    """``--exercises a,b`` as a list of names; None (every exercise) when not given."""
    if not value:
        return None
    return [name.strip() for name in value.split(",") if name.strip()] or None
