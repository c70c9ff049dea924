"""Late work: a deadline, a late policy and trusted submission times, applied to each total.

``grade batch --deadline 2026-12-01T23:59 --late-policy "10%/day, max 5 days" --times times.csv``

**Policy grammar** (case-insensitive, clauses separated by commas, in any order)::

    policy := "none" | "0" | clause ("," clause)*
    clause := RATE                   10%/day   2 points/day   5%/hour   (or "10% per day")
            | "max" N UNIT           past it the work is not accepted: 0 points
            | "cap" N ("%" | "points")   the most the penalty ever takes
            | "grace" N UNIT         this much after the deadline still counts as on time
    UNIT   := day(s) | d | hour(s) | h | hr(s) | minute(s) | min(s)

A percentage is of the points possible (the batch's maximum total), as Canvas's own
late policy counts it. Lateness is counted in *started* periods of the rate's unit after
the deadline: exactly at the deadline is on time, one second later is 1 day (or 1 hour)
late. The grace period only forgives: past it, periods still count from the deadline.
The penalty never takes a total below 0. "none" (or "0") penalizes nothing but still
reports who was late.

**Times.** A time is ISO 8601 with or without a zone (``2026-12-01T23:59``,
``2026-12-02 08:00:00+01:00``, ``...Z``); a date alone is refused (which time of the
day?). A deadline without a zone is in the grading machine's local zone; a submission
time without a zone is in the deadline's zone.

**Where a time comes from** (``assess``), in this order of trust:

1. ``--times CSV`` (columns ``id``, ``submitted_at``): any LMS export. An empty
   ``submitted_at`` means "no time". Its ids are the batch's student ids.
2. Canvas export names (grader.batch.discover): a file named ``..._late_...`` is late,
   but the export does not say by how much, so that student is flagged
   ``late, time unknown`` and *not* penalized until --times gives the time. A Canvas file
   without the mark was on time by Canvas's due date.
3. Nothing: the student is flagged ``time unknown`` in grades.csv, never silently
   penalized or excused.

Penalties are computed when the outputs are written from the journal, so ``--resume``
with other late options applies the new ones without grading anything again.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

# How each outcome reads in grades.csv's "late" column.
ON_TIME = "on time"
LATE = "late"
NOT_ACCEPTED = "late past the max"
LATE_UNKNOWN = "late, time unknown"
TIME_UNKNOWN = "time unknown"

UNITS = {
    "day": timedelta(days=1), "days": timedelta(days=1), "d": timedelta(days=1),
    "hour": timedelta(hours=1), "hours": timedelta(hours=1), "h": timedelta(hours=1),
    "hr": timedelta(hours=1), "hrs": timedelta(hours=1),
    "minute": timedelta(minutes=1), "minutes": timedelta(minutes=1), "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
}  # fmt: skip
POINT_WORDS = ("points", "point", "pts", "pt")
GRAMMAR = '"10%/day", "2 points/day", "5%/hour", "max 5 days", "cap 50%", "grace 15 min", or "none"'

_NUMBER = r"(?P<n>\d+(?:\.\d+)?)"
_UNIT = r"(?P<unit>[a-z]+)"
RATE = re.compile(rf"^{_NUMBER}\s*(?P<kind>%|points?|pts?)\s*(?:/|per\s)\s*{_UNIT}$")
LIMIT = re.compile(rf"^(?P<word>max|grace)\s+{_NUMBER}\s*{_UNIT}$")
CAP = re.compile(rf"^cap\s+{_NUMBER}\s*(?P<kind>%|points?|pts?)$")
DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
MAX_TIMES_ROWS = 100_000  # a class, not a denial of service


class LateError(ValueError):
    """A deadline, policy or times file that cannot be used (one line, shown to the user)."""


@dataclass(frozen=True)
class Policy:
    """A parsed --late-policy; ``rate`` per started ``period``, of points possible when ``percent``."""

    text: str = "none"
    rate: float = 0.0
    percent: bool = True
    period: timedelta = timedelta(days=1)
    max_late: timedelta | None = None  # later than this: not accepted (0 points)
    cap: float | None = None  # the most the penalty takes
    cap_percent: bool = True
    grace: timedelta = timedelta(0)

    @property
    def unit(self) -> str:
        """The period's name: day, hour or minute (grades.csv's column is ``<unit>s_late``)."""
        return {timedelta(days=1): "day", timedelta(hours=1): "hour"}.get(self.period, "minute")

    def penalty(self, periods: int, max_total: float) -> float:
        """Points taken off for ``periods`` started periods late (before the 0 floor)."""
        per = self.rate * max_total / 100 if self.percent else self.rate
        points = per * periods
        if self.cap is not None:
            points = min(points, self.cap * max_total / 100 if self.cap_percent else self.cap)
        return points


def parse_policy(text: str) -> Policy:
    """``Policy`` from the grammar above; LateError naming the clause that is wrong."""
    clean = " ".join(text.strip().lower().split())
    if clean in ("none", "0", "0%", ""):
        return Policy(text=text.strip() or "none")
    fields: dict[str, object] = {}
    for clause in (c.strip() for c in clean.split(",")):
        if not clause:
            raise LateError(f"late policy {text!r}: an empty clause (two commas?); write e.g. {GRAMMAR}")
        if m := RATE.match(clause):
            _once(fields, "rate", clause, text)
            rate = _number(m["n"], clause, text)
            if m["kind"] == "%" and rate > 100:
                raise LateError(f"late policy {text!r}: {clause!r} takes more than 100% per period")
            fields.update(rate=rate, percent=m["kind"] == "%", period=_unit(m["unit"], clause, text))
        elif m := LIMIT.match(clause):
            key = "max_late" if m["word"] == "max" else "grace"
            _once(fields, key, clause, text)
            try:
                fields[key] = _number(m["n"], clause, text) * _unit(m["unit"], clause, text)
            except OverflowError:  # more days than a datetime can count
                raise LateError(f"late policy {text!r}: {clause!r} is longer than any deadline can be late") from None
        elif m := CAP.match(clause):
            _once(fields, "cap", clause, text)
            fields.update(cap=_number(m["n"], clause, text), cap_percent=m["kind"] == "%")
        else:
            raise LateError(f"late policy {text!r}: cannot read {clause!r}; write e.g. {GRAMMAR}")
    if "rate" not in fields:
        raise LateError(f"late policy {text!r} has no rate (such as 10%/day or 2 points/day)")
    return Policy(text=text.strip(), **fields)  # type: ignore[arg-type]


def _number(digits: str, clause: str, text: str) -> float:
    # float("9" * 400) is inf, which no penalty, cap or period can mean.
    value = float(digits)
    if not math.isfinite(value):
        raise LateError(f"late policy {text[:80]!r}: the number in {clause[:80]!r} is too large")
    return value


def _once(fields: dict, key: str, clause: str, text: str) -> None:
    if key in fields:
        raise LateError(f"late policy {text!r}: {clause!r} repeats a clause given before")


def _unit(word: str, clause: str, text: str) -> timedelta:
    if word not in UNITS:
        raise LateError(f"late policy {text!r}: unknown unit {word!r} in {clause!r} (use days, hours or minutes)")
    return UNITS[word]


def parse_time(text: str, zone: tzinfo | None = None) -> datetime:
    """An aware datetime from ISO 8601 text; without a zone, in ``zone`` (None: local time).

    ValueError (the caller names the source) for anything else, a date alone included."""
    clean = text.strip()
    if DATE_ONLY.match(clean):
        raise ValueError("a date without a time of day")
    if clean[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read "Z"
        clean = clean[:-1] + "+00:00"
    when = datetime.fromisoformat(clean)
    if when.tzinfo is None:
        # Local time resolves its offset per date (daylight saving); a zone given is kept.
        when = when.replace(tzinfo=zone) if zone is not None else when.astimezone()
    return when


def parse_deadline(text: str) -> datetime:
    try:
        return parse_time(text)
    except (ValueError, OverflowError, OSError) as exc:  # OSError: a year the platform's clock cannot place
        raise LateError(f"--deadline {text[:80]!r} is not an ISO 8601 time such as 2026-12-01T23:59 ({exc})") from None


@dataclass
class Times:
    """Submission times from a --times CSV, by student id."""

    by_id: dict[str, datetime | None] = field(default_factory=dict)  # None: the row gives no time
    source: str = ""


def load_times(path: Path, zone: tzinfo | None = None) -> Times:
    """Read ``id, submitted_at`` rows; LateError naming the first row that cannot be used.

    ``zone``: where a time without a zone is (the deadline's; None: local time)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            names = [(c or "").strip().lower() for c in reader.fieldnames or []]
            columns = {name: c for name, c in zip(names, reader.fieldnames or [])}
            for wanted in ("id", "submitted_at"):
                if names.count(wanted) > 1:  # csv.DictReader would silently keep the last one
                    raise LateError(f"--times {path}: {names.count(wanted)} columns are named {wanted}; keep one")
            if "id" not in columns or "submitted_at" not in columns:
                raise LateError(f"--times {path}: needs the columns id and submitted_at (found {', '.join(map(repr, columns)) or 'none'})")
            times = Times(source=str(path))
            rows: dict[str, int] = {}
            for row in reader:
                number = reader.line_num
                if len(rows) >= MAX_TIMES_ROWS:
                    raise LateError(f"--times {path}: more than {MAX_TIMES_ROWS} rows")
                sid = (row.get(columns["id"]) or "").strip()
                value = (row.get(columns["submitted_at"]) or "").strip()
                if not sid:
                    if value:
                        raise LateError(f"--times {path} line {number}: a time without an id")
                    continue
                if sid in rows:
                    raise LateError(f"--times {path}: id {_short(sid)} is on lines {rows[sid]} and {number}; keep one")
                rows[sid] = number
                try:
                    times.by_id[sid] = parse_time(value, zone) if value else None
                except (ValueError, OverflowError, OSError):
                    raise LateError(
                        f"--times {path} line {number}: submitted_at {_short(value)} of id {_short(sid)} is not "
                        "an ISO 8601 time such as 2026-12-01T23:59:00"
                    ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LateError(f"cannot read --times {path}: {exc}") from None
    return times


def _short(text: str) -> str:
    """Quoted on one line and short: ids and cells come from files anyone may have written."""
    return repr(text[:60] + ("..." if len(text) > 60 else ""))


@dataclass
class LateSettings:
    """What a batch applies: the deadline, the policy and the --times rows (if any)."""

    deadline: datetime
    policy: Policy = field(default_factory=Policy)
    times: Times = field(default_factory=Times)

    def describe(self) -> str:
        return f"deadline {self.deadline.isoformat()}, late policy {self.policy.text!r}"


def settings(deadline: str, policy: str | None = None, times: Path | None = None) -> LateSettings:
    """Parse the three options at once (the library's way in; LateError on any of them)."""
    when = parse_deadline(deadline)
    rules = parse_policy(policy if policy is not None else "none")
    # Naive submission times are in the deadline's zone: its own offset, or local time.
    zone = when.tzinfo if _has_zone(deadline) else None
    return LateSettings(when, rules, load_times(times, zone) if times else Times())


def _has_zone(text: str) -> bool:
    clean = text.strip()
    return clean[-1:] in ("Z", "z") or datetime.fromisoformat(clean).tzinfo is not None


@dataclass(frozen=True)
class Lateness:
    """One student's late outcome: ``final = max(0, raw - penalty)`` (``penalty`` already floored)."""

    status: str  # ON_TIME | LATE | NOT_ACCEPTED | LATE_UNKNOWN | TIME_UNKNOWN
    raw: float
    penalty: float = 0.0
    periods: int | None = None  # started periods after the deadline; None when unknown
    unit: str = "day"
    submitted_at: datetime | None = None
    note: str = ""

    @property
    def final(self) -> float:
        return round(self.raw - self.penalty, 6)

    def summary(self) -> str:
        """One line a student may read (feedback.txt, results.json); empty when nothing applies."""
        if self.status == NOT_ACCEPTED:
            return f"Late penalty: submitted {self.periods} {self.unit}s late, past the last accepted {self.unit}: -{self.penalty:g} points"
        if self.penalty:
            return f"Late penalty: submitted {self.periods} {self.unit}{'s' * (self.periods != 1)} late: -{self.penalty:g} points"
        return ""


def assess(
    late: LateSettings, student_id: str, raw: float, max_total: float, canvas_late: bool | None = None
) -> Lateness:
    """Apply ``late`` to one student's raw total.

    ``canvas_late``: True/False when a Canvas export named the files (late mark or not),
    None when the submission came some other way."""
    policy = late.policy
    unit = policy.unit
    when = late.times.by_id.get(student_id)
    if when is None:
        if canvas_late:
            return Lateness(LATE_UNKNOWN, raw, unit=unit,
                            note="Canvas marks this submission late but not by how much: not penalized; give its time in --times")  # fmt: skip
        if canvas_late is False:
            return Lateness(ON_TIME, raw, periods=0, unit=unit, note="")
        return Lateness(TIME_UNKNOWN, raw, unit=unit,
                        note="no submission time: neither penalized nor excused; give its time in --times")  # fmt: skip
    behind = when - late.deadline
    if behind <= policy.grace or behind <= timedelta(0):
        note = "within the grace period" if behind > timedelta(0) else ""
        if canvas_late:
            note = "; ".join(filter(None, [note, "Canvas marks it late; the time in --times says on time"]))
        return Lateness(ON_TIME, raw, periods=0, unit=unit, submitted_at=when, note=note)
    periods = math.ceil(behind / policy.period)  # started periods: one second late is one period
    if policy.max_late is not None and behind > policy.max_late:
        return Lateness(NOT_ACCEPTED, raw, raw, periods, unit, when,
                        note=f"submitted past the last accepted time ({policy.text}): 0 points")  # fmt: skip
    penalty = round(min(raw, max(0.0, policy.penalty(periods, max_total))), 6)
    return Lateness(LATE, raw, penalty, periods, unit, when)


def unknown_ids(late: LateSettings, student_ids) -> list[str]:
    """Ids --times gives a time for that have no submission (the CLI warns about them)."""
    known = set(student_ids)
    return sorted(sid for sid in late.times.by_id if sid not in known)


def apply(late: LateSettings, results, canvas_marks: dict[str, bool | None]) -> None:
    """Set ``late`` on every submitted student of ``results`` (grader.batch.records.ClassResults).

    ``canvas_marks``: student id -> the Canvas late mark of their entry (None: not Canvas)."""
    for student in results.submitted():
        student.late = assess(late, student.id, student.total, results.max_total, canvas_marks.get(student.id))


def warnings(late: LateSettings, results) -> list[str]:
    """What the user should hear after ``apply``: times for ids with no submission, students with no time."""
    submitted = results.submitted()
    found = []
    stray = unknown_ids(late, (s.id for s in submitted))
    if stray:
        found.append(f"--times gives a time for {len(stray)} ids with no submission: {_listed(stray)}")
    unknown = [s.id for s in submitted if s.late is not None and s.late.status in (TIME_UNKNOWN, LATE_UNKNOWN)]
    if unknown:
        found.append(f"{len(unknown)} submissions have no known time (flagged in grades.csv, not penalized): {_listed(unknown)}")
    return found


def _listed(ids: list[str]) -> str:
    return ", ".join(_short(sid) for sid in ids[:10]) + (" ..." if len(ids) > 10 else "")


def with_penalty(document: dict, lateness: Lateness | None) -> dict:
    """A Gradescope results.json document (grader.batch.gradescope) scored after the penalty.

    The top-level ``score`` overrides the checks' sum in Gradescope's format, so the
    checks keep their own points and the output says what was taken off."""
    if lateness is None or not lateness.summary():
        return document
    return {**document, "score": lateness.final, "output": lateness.summary() + "\n" + document.get("output", "")}
