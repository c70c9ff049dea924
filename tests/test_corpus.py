"""The corpus of student-like attempts (tests/submissions/corpus): every correct attempt
earns full marks, every wrong one less, and no check ERRORs (the grader itself failing)
on any of them. benchmarks/corpus_report.py prints the full figures, messages included.

The slowest test here: it grades about 60 attempts in one process. The limit on one call
is 3 s so that the endless-loop attempt costs 3 s, not 20.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import ROOT
from grader.api import GradeOptions, Limits


def _report():
    if "corpus_report" in sys.modules:
        return sys.modules["corpus_report"]
    spec = importlib.util.spec_from_file_location("corpus_report", ROOT / "benchmarks" / "corpus_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_report"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graded():
    report = _report()
    attempts, summary = report.run(options=GradeOptions(device="cpu", seed=0, limits=Limits(call_seconds=3.0)))
    return attempts, summary


def test_corpus_has_five_of_each_kind_per_exercise():
    report = _report()
    attempts = report.attempts()
    for exercise in {a.exercise for a in attempts}:
        for kind in ("correct", "wrong"):
            count = sum(a.exercise == exercise and a.kind == kind for a in attempts)
            assert count >= 5, f"{exercise}: {count} {kind} attempts"
    assert len({a.exercise for a in attempts}) == 6


def test_every_correct_attempt_gets_full_marks(graded):
    attempts, _ = graded
    short = [f"{a.exercise}/{a.path.name}: {a.score:g}/{a.max_score:g}: {a.messages[:2]}"
             for a in attempts if a.kind == "correct" and not a.full]
    assert not short, "\n".join(short)


def test_every_wrong_attempt_gets_less(graded):
    attempts, _ = graded
    full = [f"{a.exercise}/{a.path.name} ({a.mistake})" for a in attempts if a.kind == "wrong" and a.full]
    assert not full, "\n".join(full)


def test_no_check_errors(graded):
    attempts, summary = graded
    errors = [f"{a.exercise}/{a.path.name}: {a.errors}" for a in attempts if a.errors]
    assert not errors and summary["total"]["error_checks"] == 0, "\n".join(errors)


def test_endless_loop_is_answered_quickly(graded):
    attempts, _ = graded
    endless = [a for a in attempts if a.mistake == _report().ENDLESS]
    assert endless and all(a.seconds < 15 for a in endless), [(a.path.name, a.seconds) for a in endless]
