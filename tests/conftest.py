"""Shared helpers for the grader's own tests.

Grading runs in-process here (``grader.api``), which nests a pytest session inside this
one; each run still loads student code only in forked workers.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.results import ExerciseResult

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def grade_file(exercise: str, path: Path | None = None, **options) -> ExerciseResult:
    """Grade one exercise on ``path`` (default: the stub), in-process."""
    from grader.api import grade_exercise
    from grader.runner import GradeOptions

    return grade_exercise(exercise, path, GradeOptions(**options) if options else None)


@functools.cache
def graded(exercise: str, name: str) -> ExerciseResult:
    """``submission_file(exercise, name)`` graded once per test session, however many
    tests look at it."""
    return grade_file(exercise, submission_file(exercise, name))


@functools.cache
def submission_file(exercise: str, name: str) -> Path:
    """``tests/submissions/<exercise>/<name>``; where no such file is kept, the variant of
    that name from ``tests/submissions/<exercise>/variants.py``, written once per session."""
    path = SUBMISSIONS / exercise / name
    if path.is_file():
        return path
    variants = importlib.import_module(f"submissions.{exercise}.variants")
    if name not in variants.VARIANTS:
        raise AssertionError(f"no submission {exercise}/{name}: neither a file nor in {exercise}/variants.py")
    folder = _variants_root() / exercise
    folder.mkdir(exist_ok=True)
    return variants.write_variant(folder, name)


@functools.cache
def _variants_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="submission_variants_"))
    atexit.register(shutil.rmtree, root, True)
    return root


def assert_named_failure(result: ExerciseResult, check: str, expected_message: str) -> None:
    """The check whose name starts with ``check`` failed, saying ``expected_message``."""
    failing = check_named(result, check)
    assert failing.status == "failed"
    assert expected_message in failing.message, failing.message


def check_named(result: ExerciseResult, prefix: str):
    """The first check whose name starts with ``prefix``."""
    for check in result.checks:
        if check.name.startswith(prefix):
            return check
    raise AssertionError(f"no check named {prefix}* in {[c.name for c in result.checks]}")


def submission_variant(base: Path, replacements, out_dir: Path, name: str | None = None) -> Path:
    """``base`` with each ``(old, new)`` of ``replacements`` applied in turn, written to
    ``out_dir / name`` (default: ``base``'s name). Each ``old`` must occur exactly once, so a
    base that drifts away from its variants fails loudly instead of grading the wrong text."""
    text = base.read_text()
    for old, new in replacements:
        count = text.count(old)
        assert count == 1, f"{base.name}: {old!r} occurs {count} times, expected exactly once"
        text = text.replace(old, new)
    out = Path(out_dir) / (name or base.name)
    out.write_text(text)
    return out


@pytest.fixture(scope="session")
def submissions_dir() -> Path:
    return SUBMISSIONS
