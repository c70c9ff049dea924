"""RESULTS/students/<id>/feedback.txt: what a student reads about their grade."""

from __future__ import annotations

import textwrap

from grader.batch.records import ClassResults, StudentRecord, shown_message
from grader.results import ERROR, PASSED

MARK = {PASSED: "PASS", "failed": "FAIL", ERROR: "ERROR"}


def feedback_text(student: StudentRecord, results: ClassResults) -> str:
    out = [f"Grade for {student.id}: {student.final:g} / {results.max_total:g} points", ""]
    penalty = student.late.summary() if student.late else ""
    if penalty:  # the raw total, then what the late policy took off (grader.batch.late)
        out[1:1] = [f"  {student.total:g} points before the late penalty", f"  {penalty}"]
    if student.error:
        out += ["Your submission could not be graded:", _wrap(student.error, "  "), ""]
    for spec in results.exercises:
        r = student.results[spec.name]
        out.append(f"{spec.title} ({spec.name}): {r.score:g} / {results.maxima[spec.name]:g}")
        if r.problem and not student.error:
            out.append(_wrap(r.problem, "  note: "))
        if student.error:
            out.append("")
            continue
        for check in r.checks:
            name = check.name + (" (hidden)" if check.hidden else "")
            out.append(f"  [{MARK.get(check.status, check.status)}] {name}  {check.points:g}/{check.max_points:g}")
            message = shown_message(check)
            if message:
                out.append(_wrap(message, "         "))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _wrap(text: str, indent: str) -> str:
    lines = []
    for para in text.splitlines() or [""]:
        lines += textwrap.wrap(para, 96, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent]
    return "\n".join(lines)
