"""grades.csv (one row per student, a column per exercise, a total) and the Canvas import.

Both are written by ``SafeWriter`` (the csv module, every cell through ``safe_cell``).
A roster is a CSV with a row per enrolled student: a Canvas gradebook export (``Student,
ID, SIS User ID, SIS Login ID, Section, ...``) or any CSV with an ``id`` column (and
optionally ``name``). A submission belongs to the roster row whose ID, SIS User ID, SIS
Login ID or id equals the submission's id; with a roster, students who submitted nothing
get a row too (status ``missing``).

``--canvas`` writes canvas.csv in Canvas's gradebook import layout: the five student
columns, then one assignment column holding the total, with a "Points Possible" row.
Students with no submission are left blank there (Canvas then changes nothing for them).

Matching must be unambiguous: a submission id that names two roster rows (say one
student's SIS Login ID is another's Canvas ID), or two submissions that name one row,
is refused with both names (``RosterError``) rather than guessed, since a guess puts a
score on the wrong student's row.

Every cell goes through ``safe_cell``: a spreadsheet opening either file must never
take a student id, a name or a message for a formula (OWASP's CSV injection rule).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.job import MISSING
from grader.batch.late import LateSettings
from grader.batch.records import ClassResults, StudentRecord

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
ID_COLUMNS = ["ID", "SIS User ID", "SIS Login ID", "id", "student_id", "student id", "login", "username"]
NAME_COLUMNS = ["Student", "name", "Name", "student name"]


# OWASP (CSV Injection): a cell starting with one of these may be run as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A number as we write one (``f"{x:g}"``): such a cell is data, never a formula. A leading
# "+" is not in it: we never write one, and "+1+cmd|..." is the classic attack's shape.
PLAIN_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?", re.IGNORECASE)


def safe_cell(value: object) -> str:
    """The text of one CSV cell, safe to open in a spreadsheet (OWASP's rule).

    Numbers are written as numbers (a score of -1.5 stays -1.5); text that a spreadsheet
    would read as a formula gets a leading single quote, so it shows as the text it is.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _points(value)
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``safe_cell``: the one way grader.batch writes CSV."""

    def __init__(self, f) -> None:
        self._writer = csv.writer(f)

    def writerow(self, cells: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(c) for c in cells])


class RosterError(ValueError):
    """The roster file cannot be used (one line, shown to the user)."""


@dataclass
class Roster:
    rows: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def matches(self, student_id: str) -> list[dict[str, str]]:
        """Every row one of whose id columns holds ``student_id``."""
        return [row for row in self.rows if any((row.get(c) or "").strip() == student_id for c in ID_COLUMNS if c in row)]

    def match(self, student_id: str) -> dict[str, str] | None:
        """The one row ``student_id`` names, or None; RosterError if it names several."""
        rows = self.matches(student_id)
        if len(rows) > 1:
            shown = " and ".join(self.describe(r) for r in rows[:2])
            raise RosterError(
                f"the roster is ambiguous: submission {_quote(student_id)} matches {len(rows)} rows, "
                f"{shown}; make the ids unique in the roster or rename the submission"
            )
        return rows[0] if rows else None

    def assign(self, student_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """The row of each submission that has one; RosterError if any match is ambiguous.

        Ambiguous: one id naming several rows, or several ids naming one row (two
        submissions of one student, or one student's login another's Canvas ID).
        """
        rows: dict[str, dict[str, str]] = {}
        owner: dict[int, str] = {}  # id(row) -> the submission that claimed it
        for sid in student_ids:
            row = self.match(sid)
            if row is None:
                continue
            if id(row) in owner and owner[id(row)] != sid:
                raise RosterError(
                    f"the roster is ambiguous: submissions {_quote(owner[id(row)])} and {_quote(sid)} both match "
                    f"the row of {self.describe(row)}; remove one submission or fix the roster"
                )
            owner[id(row)] = sid
            rows[sid] = row
        return rows

    def describe(self, row: dict[str, str]) -> str:
        """A row as an error message names it: its name and its first id."""
        name, primary = self.name(row), self.primary_id(row)
        return f"{_quote(name)} (id {_quote(primary)})" if name else _quote(primary)

    def primary_id(self, row: dict[str, str]) -> str:
        for c in ID_COLUMNS:
            if (row.get(c) or "").strip():
                return row[c].strip()
        return ""

    def name(self, row: dict[str, str] | None) -> str:
        if not row:
            return ""
        for c in NAME_COLUMNS:
            if (row.get(c) or "").strip():
                return row[c].strip()
        return ""


def load_roster(path: Path) -> Roster:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = []
            for raw in reader:
                row = {(k or "").strip(): (v or "") for k, v in raw.items() if k is not None}
                student = row.get("Student", "").strip()
                # Canvas exports carry a "Points Possible" row (and sometimes a muted row).
                if student in ("Points Possible", "Student, Test") or student.startswith("Points Possible"):
                    continue
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"cannot read the roster {path}: {exc}") from None
    if not any(c in columns for c in ID_COLUMNS):
        raise RosterError(f"the roster {path} has no id column (one of: {', '.join(ID_COLUMNS)})")
    return Roster(rows, columns)


def _quote(text: str) -> str:
    """Quoted, on one line: ids come from folder names, which may hold any character."""
    return repr(text)


def _points(value: float) -> str:
    return f"{value:g}"


def write_grades(results: ClassResults, path: Path, roster: Roster | None = None, late: LateSettings | None = None) -> None:
    """``late`` (--deadline): the total becomes ``raw`` and the late columns follow it (see LATE_COLUMNS)."""
    totals = [*LATE_COLUMNS[:3], f"{late.policy.unit}s_late", *LATE_COLUMNS[3:]] if late else ["total"]
    header = ["student"] + (["name"] if roster else []) + results.names + totals + ["status", "note"]
    names = _names(results, roster) if roster else {}
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(header)
        for s in results.students:
            row: list[object] = [s.id]
            if roster:
                row.append(names.get(s.id, ""))
            row += [s.results[name].score for name in results.names]
            row += _late_cells(s) if late else [s.total]
            note = "; ".join(filter(None, [_note(s), s.late.note if s.late else ""]))
            writer.writerow(row + [s.status_text, note])


# With --deadline: raw total, when it was submitted, on time or late, started periods late
# ("days_late" or "hours_late", after the policy's unit, goes here), penalty, final score.
LATE_COLUMNS = ["raw", "submitted_at", "late", "penalty", "final"]


def _late_cells(s: StudentRecord) -> list[object]:
    lateness = s.late
    if lateness is None:  # no submission (a roster row): nothing to be late with
        return [s.total, "", "", "", "", s.final]
    when = lateness.submitted_at.isoformat() if lateness.submitted_at else ""
    periods = "" if lateness.periods is None else lateness.periods
    return [s.total, when, lateness.status, periods, lateness.penalty, s.final]


def _names(results: ClassResults, roster: Roster) -> dict[str, str]:
    """Each student's roster name. Submissions are matched (refused if ambiguous); a
    student who submitted nothing is named by the row their id was taken from."""
    rows = roster.assign(s.id for s in results.submitted())
    names = {sid: roster.name(row) for sid, row in rows.items()}
    for row in roster.rows:
        primary = roster.primary_id(row)
        names.setdefault(primary, roster.name(row))
    return names


def _note(s: StudentRecord) -> str:
    if s.error:
        return s.error
    problems = [f"{name}: {r.problem}" for name, r in s.results.items() if r.problem]
    return "; ".join(problems)


def write_canvas(results: ClassResults, roster: Roster, path: Path, assignment: str) -> list[str]:
    """Write the Canvas import file; return the ids of submissions no roster row matches.

    RosterError, before anything is written, if a match is ambiguous."""
    submitted = [s for s in results.students if s.status != MISSING]
    rows = roster.assign(s.id for s in submitted)
    by_row = {id(rows[s.id]): s for s in submitted if s.id in rows}
    unmatched = [s.id for s in submitted if s.id not in rows]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(CANVAS_COLUMNS + [assignment])
        writer.writerow(["Points Possible", "", "", "", "", results.max_total])
        for row in roster.rows:
            s = by_row.get(id(row))
            writer.writerow([row.get(c, "") for c in CANVAS_COLUMNS] + [s.final if s else ""])  # after any late penalty
    return unmatched
