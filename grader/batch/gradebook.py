"""grades.csv (one row per student, a column per exercise, a total) and the Canvas import.

Both are written with the csv module. A roster is a CSV with a row per enrolled student:
a Canvas gradebook export (``Student, ID, SIS User ID, SIS Login ID, Section, ...``) or
any CSV with an ``id`` column (and optionally ``name``). A submission belongs to the
roster row whose ID, SIS User ID, SIS Login ID or id equals the submission's id; with a
roster, students who submitted nothing get a row too (status ``missing``).

``--canvas`` writes canvas.csv in Canvas's gradebook import layout: the five student
columns, then one assignment column holding the total, with a "Points Possible" row.
Students with no submission are left blank there (Canvas then changes nothing for them).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.job import MISSING
from grader.batch.records import ClassResults, StudentRecord

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
ID_COLUMNS = ["ID", "SIS User ID", "SIS Login ID", "id", "student_id", "student id", "login", "username"]
NAME_COLUMNS = ["Student", "name", "Name", "student name"]


class RosterError(ValueError):
    """The roster file cannot be used (one line, shown to the user)."""


@dataclass
class Roster:
    rows: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def match(self, student_id: str) -> dict[str, str] | None:
        for row in self.rows:
            if any((row.get(c) or "").strip() == student_id for c in ID_COLUMNS if c in row):
                return row
        return None

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


def _points(value: float) -> str:
    return f"{value:g}"


def write_grades(results: ClassResults, path: Path, roster: Roster | None = None) -> None:
    header = ["student"] + (["name"] if roster else []) + results.names + ["total", "status", "note"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for s in results.students:
            row = [s.id]
            if roster:
                row.append(roster.name(roster.match(s.id)))
            row += [_points(s.results[name].score) for name in results.names]
            row += [_points(s.total), s.status, _note(s)]
            writer.writerow(row)


def _note(s: StudentRecord) -> str:
    if s.error:
        return s.error
    problems = [f"{name}: {r.problem}" for name, r in s.results.items() if r.problem]
    return "; ".join(problems)


def write_canvas(results: ClassResults, roster: Roster, path: Path, assignment: str) -> list[str]:
    """Write the Canvas import file; return the ids of submissions no roster row matches."""
    by_row: dict[int, StudentRecord] = {}
    unmatched = []
    for s in results.students:
        if s.status == MISSING:
            continue
        row = roster.match(s.id)
        if row is None:
            unmatched.append(s.id)
        else:
            by_row[id(row)] = s
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CANVAS_COLUMNS + [assignment])
        writer.writerow(["Points Possible", "", "", "", "", _points(results.max_total)])
        for row in roster.rows:
            s = by_row.get(id(row))
            writer.writerow([row.get(c, "") for c in CANVAS_COLUMNS] + [_points(s.total) if s else ""])
    return unmatched
