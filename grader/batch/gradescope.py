"""Gradescope's autograder results format, one ``results.json`` per student.

The documented schema (https://gradescope-autograders.readthedocs.io, "Output format"):
a top-level ``score`` and ``output``, and ``tests``, each with ``name``, ``score``,
``max_score``, ``status`` ("passed" or "failed"), ``output`` and ``visibility``. Hidden
checks are ``after_published`` (students see them once grades are published); the
others are ``visible``; their output never holds their message (it may give away
their inputs). A check the grader could not run counts as failed.
"""

from __future__ import annotations

from grader.batch.records import ClassResults, StudentRecord, shown_message
from grader.results import PASSED


def document(student: StudentRecord, results: ClassResults) -> dict:
    tests = []
    lines = []
    for name in results.names:
        r = student.results[name]
        lines.append(f"{name}: {r.score:g}/{results.maxima[name]:g} points" + (f" ({r.problem})" if r.problem else ""))
        for check in r.checks:
            tests.append(
                {
                    "name": f"{name}: {check.name}",
                    "score": check.points,
                    "max_score": check.max_points,
                    "status": "passed" if check.status == PASSED else "failed",
                    "output": shown_message(check),
                    "visibility": "after_published" if check.hidden else "visible",
                }
            )
    if student.error:
        lines.insert(0, f"Your submission could not be graded: {student.error}")
    return {
        "score": student.total,
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
