"""The class as the outputs see it: one record per student, every exercise filled in.

Built from the journal's lines for the students found in SUBMISSIONS (and, with a
roster, the students who submitted nothing). A student whose grading errored gets, for
each exercise, one failed "grading" entry worth the exercise's points, so every output
shows the same maxima for everyone. All outputs are written from this view alone, which
is why an interrupted and resumed batch writes the same files as an uninterrupted one.

A hidden check's message never reaches an output (``shown_message``): it can hold the
check's inputs or a reference value, which would let the next student pass it without
the code; nor does the known mistake it matched (``public_check``). Outputs keep its
name, status, outcome and points. The journal keeps the full message.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from grader.batch.job import ERROR, GRADED, MISSING
from grader.results import NOT_SUBMITTED, PASSED, CheckResult, ExerciseResult
from grader.safe_text import printable, printable_tree
from grader.spec import ExerciseSpec

if TYPE_CHECKING:
    from grader.batch.late import Lateness

HIDDEN_NOTE = "hidden check: its inputs and messages are not shown"


def shown_message(check: CheckResult) -> str:
    """What any output may say about ``check``: a hidden check's own message never."""
    if not check.hidden:
        return check.message
    return "" if check.status == PASSED else HIDDEN_NOTE


def public_check(check: CheckResult) -> CheckResult:
    """``check`` as any output may show it: a hidden check without its message or mistake."""
    if not check.hidden:
        return check
    return replace(check, message=shown_message(check), mistake="")


WITHOUT_ISOLATION = "(without isolation)"


@dataclass
class StudentRecord:
    id: str
    status: str  # graded | error | missing
    label: str = ""  # the submission's name in SUBMISSIONS
    error: str = ""
    results: dict[str, ExerciseResult] = field(default_factory=dict)  # by exercise name
    isolated: bool = True  # False: graded with --no-sandbox
    late: Lateness | None = None  # with --deadline (grader.batch.late): the penalty on the total

    @property
    def status_text(self) -> str:
        """The status as outputs show it: a result graded without isolation says so."""
        return self.status if self.isolated else f"{self.status} {WITHOUT_ISOLATION}"

    @property
    def total(self) -> float:
        return round(sum(r.score for r in self.results.values()), 6)

    @property
    def final(self) -> float:
        """The total after a late penalty (the total itself without --deadline)."""
        return self.late.final if self.late is not None else self.total


@dataclass
class ClassResults:
    exercises: list[ExerciseSpec]
    maxima: dict[str, float]
    students: list[StudentRecord]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.exercises]

    @property
    def max_total(self) -> float:
        return round(sum(self.maxima.values()), 6)

    def graded(self) -> list[StudentRecord]:
        return [s for s in self.students if s.status == GRADED]

    def errored(self) -> list[StudentRecord]:
        return [s for s in self.students if s.status == ERROR]

    def submitted(self) -> list[StudentRecord]:
        return [s for s in self.students if s.status != MISSING]


def static_max(spec: ExerciseSpec) -> float:
    from grader.api import static_checks

    return float(sum(c.points for c in static_checks(spec, include_hidden=True)))


def build(
    specs: list[ExerciseSpec],
    lines: dict[str, dict],
    labels: dict[str, str],
    missing: list[str] = (),
) -> ClassResults:
    """``lines``: the journal line per student id to report; ``labels``: id -> entry label.

    Every string a line holds (messages quote what submissions raised and printed) is made
    printable here, once for every output: whatever a journal holds, even one written by
    an older grader, each output can be written and shows what a student chose as text."""
    lines = {sid: printable_tree(doc) for sid, doc in lines.items()}
    labels = {sid: printable(label) for sid, label in labels.items()}
    maxima: dict[str, float] = {}
    for spec in specs:
        seen = Counter()
        for doc in lines.values():
            if doc.get("status") != GRADED:
                continue
            for ex in doc.get("exercises", []):
                if ex.get("exercise") == spec.name and ex.get("checks"):
                    seen[float(ex.get("max_score", 0.0))] += 1
        # The maximum most graded students saw (a run whose checks could not even be
        # collected reports less); otherwise what the check files declare.
        maxima[spec.name] = max(seen.items(), key=lambda kv: (kv[1], kv[0]))[0] if seen else static_max(spec)

    students = []
    for sid in sorted(lines):
        doc = lines[sid]
        record = StudentRecord(sid, doc.get("status", ERROR), labels.get(sid, sid), doc.get("error", ""))
        record.isolated = doc.get("isolated", True)
        by_name = {ex.get("exercise"): ex for ex in doc.get("exercises", [])}
        for spec in specs:
            if record.status == GRADED and spec.name in by_name:
                record.results[spec.name] = _public(ExerciseResult.from_json(by_name[spec.name]))
            else:
                reason = record.error or "this exercise was not graded"
                record.results[spec.name] = placeholder(spec.name, maxima[spec.name], reason)
        students.append(record)
    for sid in sorted(set(missing) - set(lines)):
        record = StudentRecord(sid, MISSING, "", "no submission")
        for spec in specs:
            record.results[spec.name] = placeholder(spec.name, maxima[spec.name], "no submission", NOT_SUBMITTED)
        students.append(record)
    students.sort(key=lambda s: s.id)
    return ClassResults(list(specs), maxima, students)


def _public(result: ExerciseResult) -> ExerciseResult:
    """``result`` with every check as outputs may show it (result.json is written from this too)."""
    result.checks = [public_check(c) for c in result.checks]
    return result


def placeholder(exercise: str, max_points: float, reason: str, outcome: str = "") -> ExerciseResult:
    """One failed "grading" entry worth the exercise's points. ``outcome``: why, when known
    (no submission); a grading error's status says it all."""
    check = CheckResult("grading", 0.0, max_points, ERROR, reason, outcome=outcome)
    return ExerciseResult(exercise, "cpu", 0.0, [check], problem=reason)

