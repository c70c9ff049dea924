"""Late work in ``grade batch``: the policy grammar, counting started periods after the
deadline, the --times file, Canvas's late mark, flagging a submission with no time, and
one small batch whose grades.csv, canvas.csv, feedback and results.json carry the penalty.

Everything but the last two tests runs without grading (journal-like lines, as in
test_batch_outputs_security)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from batch_fixtures.make_class import CORRECT, NO_MAX
from grader.batch import late
from grader.batch.discover import discover
from grader.batch.gradebook import write_grades
from grader.batch.late import LateError, LateSettings, Times, assess, parse_policy, settings
from test_batch import OPTIONS, batch
from test_batch_outputs_security import _class, _dangerous, _line, _rows, softmax_spec  # noqa: F401 (a fixture)

DEADLINE = "2026-12-01T23:59:00+00:00"
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc)


def _at(policy: str, after: timedelta, raw: float = 80.0, max_total: float = 100.0, canvas=None) -> late.Lateness:
    s = LateSettings(DUE, parse_policy(policy), Times({"a": DUE + after}))
    return assess(s, "a", raw, max_total, canvas)


# --------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize("text, rate, percent, period, max_late, grace, cap", [
    ("10%/day", 10, True, timedelta(days=1), None, timedelta(0), None),
    ("10%/day, max 5 days", 10, True, timedelta(days=1), timedelta(days=5), timedelta(0), None),
    ("2 points/day", 2, False, timedelta(days=1), None, timedelta(0), None),
    ("5%/hour", 5, True, timedelta(hours=1), None, timedelta(0), None),
    ("10% per day, grace 15 min", 10, True, timedelta(days=1), None, timedelta(minutes=15), None),
    ("Grace 2 hours, 1.5 pts/h, MAX 48 hours, cap 30%", 1.5, False, timedelta(hours=1), timedelta(hours=48),
     timedelta(hours=2), 30),
    ("none", 0, True, timedelta(days=1), None, timedelta(0), None),
    ("0", 0, True, timedelta(days=1), None, timedelta(0), None),
])  # fmt: skip
def test_policies_the_grammar_reads(text, rate, percent, period, max_late, grace, cap):
    p = parse_policy(text)
    assert (p.rate, p.percent, p.period, p.max_late, p.grace, p.cap) == (rate, percent, period, max_late, grace, cap)


@pytest.mark.parametrize("text, says", [
    ("10%", "cannot read '10%'"),
    ("10%/week", "unknown unit 'week'"),
    ("max 5 days", "has no rate"),
    ("10%/day, 5%/day", "repeats a clause"),
    ("150%/day", "more than 100%"),
    ("10%/day,,max 2 days", "empty clause"),
    ("ten percent a day", "cannot read"),
    ("=cmd|' /C calc'!A0", "cannot read"),
])  # fmt: skip
def test_policies_it_refuses_in_one_line(text, says):
    with pytest.raises(LateError) as info:
        parse_policy(text)
    assert says in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize("after, status, periods, penalty", [
    (timedelta(seconds=-1), late.ON_TIME, 0, 0),
    (timedelta(0), late.ON_TIME, 0, 0),  # exactly at the deadline
    (timedelta(seconds=1), late.LATE, 1, 10),  # one second late starts day 1
    (timedelta(days=1), late.LATE, 1, 10),
    (timedelta(days=1, seconds=1), late.LATE, 2, 20),
    (timedelta(days=5), late.LATE, 5, 50),  # the last accepted day
    (timedelta(days=5, seconds=1), late.NOT_ACCEPTED, 6, 80),  # past the max: 0 points
])  # fmt: skip
def test_started_days_after_the_deadline(after, status, periods, penalty):
    got = _at("10%/day, max 5 days", after)
    assert (got.status, got.periods, got.penalty) == (status, periods, penalty)
    assert got.final == 80 - penalty


def test_grace_forgives_then_counts_from_the_deadline():
    assert _at("10%/day, grace 15 min", timedelta(minutes=15)).status == late.ON_TIME
    within = _at("10%/day, grace 15 min", timedelta(minutes=14))
    assert within.penalty == 0 and "grace" in within.note
    past = _at("10%/day, grace 15 min", timedelta(minutes=15, seconds=1))
    assert (past.status, past.periods, past.penalty) == (late.LATE, 1, 10)


def test_per_hour_points_per_day_the_cap_and_the_floor():
    assert _at("5%/hour", timedelta(hours=2, minutes=1)).penalty == 15  # 3 started hours of 5% of 100
    assert _at("2 points/day", timedelta(days=2, hours=1)).penalty == 6  # points, not a percentage
    assert _at("10%/day, cap 30%", timedelta(days=9)).penalty == 30
    assert _at("10%/day, cap 25 points", timedelta(days=9)).penalty == 25
    floored = _at("2 points/day", timedelta(days=9), raw=5)
    assert (floored.penalty, floored.final) == (5, 0)  # never below 0
    assert _at("none", timedelta(days=3)).status == late.LATE and _at("none", timedelta(days=3)).penalty == 0


# --------------------------------------------------------------------------- --times


def _times(tmp_path: Path, rows: list[list[str]], header=("id", "submitted_at")) -> Path:
    path = tmp_path / "times.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.parametrize("rows, header, says", [
    ([["alice", "yesterday"]], ("id", "submitted_at"), "line 2: submitted_at 'yesterday' of id 'alice'"),
    ([["alice", "2026-12-01T10:00"], ["bob", "2026-13-01T10:00"]], ("id", "submitted_at"), "line 3"),
    ([["alice", "2026-12-01"]], ("id", "submitted_at"), "line 2"),  # a date alone: which time?
    ([["alice", "2026-12-01T10:00"], ["alice", "2026-12-02T10:00"]], ("id", "submitted_at"), "lines 2 and 3"),
    ([["alice", "2026-12-01T10:00"]], ("student", "time"), "needs the columns id and submitted_at"),
])  # fmt: skip
def test_times_files_it_refuses_name_the_row(tmp_path, rows, header, says):
    with pytest.raises(LateError) as info:
        settings(DEADLINE, "10%/day", _times(tmp_path, rows, header))
    assert says in str(info.value) and "\n" not in str(info.value)


def test_naive_times_are_in_the_deadline_zone(tmp_path):
    path = _times(tmp_path, [["a", "2026-12-01T23:59:00"], ["b", "2026-12-01T23:59:01"], ["c", "2026-12-01T22:30:00Z"], ["e", "2026-12-01T23:00:00Z"], ["d", ""]])
    s = settings("2026-12-01T23:59+01:00", "10%/day", path)
    assert assess(s, "a", 10, 10).status == late.ON_TIME
    assert assess(s, "b", 10, 10).periods == 1
    assert assess(s, "c", 10, 10).status == late.ON_TIME  # 23:30+01:00: a zone given is kept
    assert assess(s, "e", 10, 10).periods == 1  # 00:00+01:00 the next day
    assert assess(s, "d", 10, 10).status == late.TIME_UNKNOWN  # an empty cell is no time, not an error
    local = settings("2026-12-01T23:59", "10%/day", path)  # no zone: the grading machine's local time
    assert assess(local, "a", 10, 10).status == late.ON_TIME and assess(local, "b", 10, 10).periods == 1


# --------------------------------------------------------------------------- where a time comes from


def test_canvas_late_marks_are_read_from_the_export_names(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "doejane_late_1001_501_softmax.py").write_text(CORRECT)
    (subs / "roerick_1002_late_502_softmax.py").write_text(CORRECT)  # the mark after the user id
    (subs / "poepat_1003_503_late_softmax.py").write_text(CORRECT)  # "late_" in the student's own file name
    (subs / "alice.py").write_text(CORRECT)
    marks = {e.id: e.late for e in discover(subs).entries}
    assert marks == {"1001": True, "1002": True, "1003": False, "alice": None}


def test_canvas_late_without_a_time_is_flagged_not_penalized():
    flagged = _at("10%/day", timedelta(days=3), canvas=True)
    s = LateSettings(DUE, parse_policy("10%/day"))
    unknown = assess(s, "a", 80, 100, canvas_late=True)
    assert (unknown.status, unknown.penalty, unknown.final) == (late.LATE_UNKNOWN, 0, 80) and "--times" in unknown.note
    assert flagged.penalty == 30  # with a time, the time decides
    assert assess(s, "a", 80, 100, canvas_late=False).status == late.ON_TIME  # Canvas judged it on time


def test_no_time_is_flagged_in_grades_csv_and_a_stray_time_warned(tmp_path, softmax_spec):
    results = _class(softmax_spec, [_line("alice", 3.0), _line("bob", 3.0)])
    s = LateSettings(DUE, parse_policy("10%/day"), Times({"alice": DUE + timedelta(hours=1), "ghost": DUE}))
    late.apply(s, results, {})
    write_grades(results, tmp_path / "grades.csv", late=s)
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["alice"]["late"] == "late" and rows["alice"]["penalty"] == "0.4" and rows["alice"]["final"] == "3.6"
    assert rows["bob"]["late"] == "time unknown" and rows["bob"]["penalty"] == "0" and rows["bob"]["final"] == "4"
    assert rows["bob"]["days_late"] == "" and "no submission time" in rows["bob"]["note"]
    warned = late.warnings(s, results)
    assert any("'ghost'" in w for w in warned) and any("'bob'" in w for w in warned)


# --------------------------------------------------------------------------- grade batch


def test_cli_refusals_are_one_line_before_grading(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(CORRECT)
    bad_times = _times(tmp_path, [["alice", "=cmd|' /C calc'!A0"]])
    cases = [
        (["--late-policy", "10%/day"], "need --deadline"),
        (["--deadline", "tomorrow"], "--deadline 'tomorrow' is not an ISO 8601 time"),
        (["--deadline", DEADLINE, "--late-policy", "10%/fortnight"], "unknown unit 'fortnight'"),
        (["--deadline", DEADLINE, "--times", bad_times], "line 2: submitted_at"),
    ]
    for i, (args, says) in enumerate(cases):
        result = batch(subs, "--out", tmp_path / f"out{i}", *OPTIONS, *args)
        assert result.exit_code == 2, (args, result.output)
        assert says in result.output and "Traceback" not in result.output, result.output
        assert not (tmp_path / f"out{i}" / "journal.jsonl").exists()  # refused before grading


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_batch_with_a_deadline_then_resumed_with_another_policy(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(CORRECT)  # on time
    (subs / "bob.py").write_text(NO_MAX)  # 2 days late, less than full marks
    (subs / "doejane_late_1001_501_softmax.py").write_text(CORRECT)  # Canvas: late, time unknown
    (subs / "=2+3.py").write_text(CORRECT)  # a hostile id, no time: flagged
    times = tmp_path / "times.csv"
    with open(times, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "submitted_at", "comment"])
        w.writerow(["alice", "2026-12-01T23:58:59Z", "=HYPERLINK(\"http://x\")"])
        w.writerow(["bob", "2026-12-03T12:00:00+00:00", "@SUM(A1)"])
        w.writerow(["@ghost\x07", "2026-12-02T00:00:00Z", "-1+2"])  # no such submission: a warning
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"])
        for sid in ("alice", "bob", "1001", "=2+3"):
            w.writerow([f"Student {sid}", sid, "", "", "A"])
    out = tmp_path / "out"
    late_args = ["--deadline", DEADLINE, "--late-policy", "10%/day, max 5 days", "--times", times]
    result = batch(subs, "--out", out, *OPTIONS, "--roster", roster, "--canvas", *late_args)
    assert result.exit_code == 0, result.output
    assert "with no submission: '@ghost\\x07'" in result.output  # one line, the bell escaped
    assert "no known time" in result.output and "'=2+3'" in result.output

    raw_rows = list(csv.reader(open(out / "grades.csv", newline="")))
    assert raw_rows[0] == ["student", "name", "softmax", "raw", "submitted_at", "late", "days_late", "penalty", "final",
                           "status", "note"]  # fmt: skip
    assert not any(_dangerous(cell) for row in raw_rows for cell in row)
    rows = {r["student"]: r for r in _read(out / "grades.csv")}
    assert set(rows) == {"alice", "bob", "1001", "'=2+3"}
    full = float(_rows(out / "canvas.csv")[1][-1])  # the "Points Possible" row: percentages are of it
    assert float(rows["alice"]["raw"]) == full
    assert rows["alice"]["late"] == "on time" and float(rows["alice"]["final"]) == full > 0
    bob = rows["bob"]
    assert bob["late"] == "late" and bob["days_late"] == "2" and bob["submitted_at"] == "2026-12-03T12:00:00+00:00"
    assert float(bob["penalty"]) == pytest.approx(0.2 * full)  # 10% of the points possible per started day
    assert float(bob["final"]) == pytest.approx(max(0.0, float(bob["raw"]) - 0.2 * full))
    assert float(bob["final"]) < float(bob["raw"])
    assert rows["1001"]["late"] == "late, time unknown" and rows["1001"]["final"] == rows["1001"]["raw"]
    assert rows["'=2+3"]["late"] == "time unknown" and "no submission time" in rows["'=2+3"]["note"]

    canvas = {r["ID"]: r for r in _read(out / "canvas.csv")}
    assert float(canvas["bob"]["Transformer course"]) == pytest.approx(float(bob["final"]))
    assert float(canvas["alice"]["Transformer course"]) == full
    assert not any(_dangerous(cell) for row in _rows(out / "canvas.csv") for cell in row)

    feedback = (out / "students" / "bob" / "feedback.txt").read_text()
    assert f"Grade for bob: {float(bob['final']):g} /" in feedback and "2 days late" in feedback
    gradescope = json.loads((out / "students" / "bob" / "results.json").read_text())
    assert gradescope["score"] == pytest.approx(float(bob["final"])) and "Late penalty" in gradescope["output"]
    assert "Late penalty" not in (out / "students" / "alice" / "feedback.txt").read_text()

    # --resume with another policy: nothing is graded again, the outputs follow the new policy.
    result = batch(subs, "--out", out, *OPTIONS, "--roster", roster, "--canvas", "--resume", "--json",
                   "--deadline", DEADLINE, "--late-policy", "none", "--times", times)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["graded_now"] == 0
    again = {r["student"]: r for r in _read(out / "grades.csv")}
    assert again["bob"]["late"] == "late" and again["bob"]["final"] == again["bob"]["raw"] == bob["raw"]
    # ... and without --deadline, grades.csv is the plain one again.
    result = batch(subs, "--out", out, *OPTIONS, "--resume")
    assert result.exit_code == 0, result.output
    assert list(csv.reader(open(out / "grades.csv", newline="")))[0] == ["student", "softmax", "total", "status", "note"]
