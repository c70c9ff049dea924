"""Hostile input to late work: policy strings with huge numbers, --times files with
ambiguous columns, formula cells and times at the ends of the calendar. Each must end in a
one-line LateError (the CLI's usage error) or a correct result, never a traceback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.batch.late import LATE, LateError, LateSettings, Times, assess, parse_policy, settings

DEADLINE = "2026-12-01T23:59:00+00:00"
HUGE = "9" * 400  # float() of it is inf


@pytest.mark.parametrize("policy", [
    "10%/day, max 99999999999 days",  # a timedelta cannot hold it: OverflowError
    "10%/day, grace 99999999999999 minutes",
    f"{HUGE} points/day",  # inf points a day
    f"10%/day, cap {HUGE} points",
    f"10%/day, max {HUGE} days",
])  # fmt: skip
def test_policies_with_huge_numbers_are_refused_in_one_line(policy):
    with pytest.raises(LateError) as info:
        parse_policy(policy)
    assert "\n" not in str(info.value)


def test_the_largest_policy_numbers_that_mean_something_still_work():
    policy = parse_policy("1000000 points/day, max 36500 days")
    assert policy.max_late == timedelta(days=36500)
    due = datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc)
    found = assess(LateSettings(due, policy, Times({"a": due + timedelta(seconds=1)})), "a", 7.0, 10.0)
    assert (found.status, found.final) == (LATE, 0.0)  # floored at 0, never negative


def _times(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "times.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("header", ["id,submitted_at,id", "id,ID,submitted_at", "id,submitted_at,Submitted_At "])
def test_times_with_a_repeated_column_are_refused_not_guessed(tmp_path, header):
    # csv.DictReader keeps the last of two same-named columns: bob's time would go to alice.
    row = {"id,submitted_at,id": "alice,2026-12-02T00:00,bob", "id,ID,submitted_at": "alice,bob,2026-12-02T00:00",
           "id,submitted_at,Submitted_At ": "alice,2026-12-01T00:00,2026-12-09T00:00"}[header]  # fmt: skip
    with pytest.raises(LateError, match="columns are named"):
        settings(DEADLINE, "10%/day", _times(tmp_path, f"{header}\n{row}\n"))


def test_a_bom_and_formula_ids_are_plain_text(tmp_path):
    found = settings(DEADLINE, "10%/day", _times(tmp_path, "\ufeffid,submitted_at\n=HYPERLINK(\"x\"),2026-12-02T00:00\n"))
    assert list(found.times.by_id) == ['=HYPERLINK("x")']


@pytest.mark.parametrize("cell", ["=1+1", "nan", "inf", "2026-12-01", "1e9", "0001-01-01T00:00"])
def test_cells_that_are_not_times_name_the_line(tmp_path, cell):
    # 0001-01-01 without a zone is in local time, which cannot place year 1 everywhere;
    # with a zone-less deadline it is refused rather than shifted.
    with pytest.raises(LateError, match="line 2"):
        settings("2026-12-01T23:59", "10%/day", _times(tmp_path, f"id,submitted_at\nalice,{cell}\n"))


def test_times_at_the_ends_of_the_calendar_count_without_overflow(tmp_path):
    path = _times(tmp_path, "id,submitted_at\nearly,0001-01-01T00:00+00:00\nlate,9999-12-31T23:59:59+00:00\n")
    found = settings("0001-01-01T00:01+00:00", "1 points/minute", path)
    assert assess(found, "early", 5.0, 10.0).final == 5.0
    very_late = assess(found, "late", 5.0, 10.0)
    assert (very_late.status, very_late.final) == (LATE, 0.0)
    assert very_late.periods > 5_000_000_000  # minutes in 10,000 years: exact integers, not floats


def test_a_huge_cell_is_one_line(tmp_path):
    with pytest.raises(LateError) as info:
        settings(DEADLINE, "10%/day", _times(tmp_path, "id,submitted_at\nalice," + "9" * 200_000 + "\n"))
    assert "\n" not in str(info.value) and len(str(info.value)) < 500


@pytest.mark.parametrize("names, late", [
    (["doejane_12345_678_my_late_softmax.py"], False),  # "late" in the student's own file name
    (["doejane_12345_678_late_1_softmax.py"], False),
    (["doejane_12345_678_LATE_12345_softmax.py"], False),
    (["doejane_late_12345_678_softmax.py"], True),  # Canvas's mark, before the user id
    (["doejane_12345_late_678_softmax.py"], True),  # or after it
    (["doejane_12345_678_softmax.py", "doejane_late_12345_679_attention.py"], True),  # one late file is enough
])  # fmt: skip
def test_a_canvas_late_mark_is_read_only_where_canvas_writes_it(tmp_path, names, late):
    from grader.batch.discover import discover

    for name in names:
        (tmp_path / name).write_text("x = 1\n")
    (entry,) = discover(tmp_path).entries
    assert (entry.id, entry.kind, entry.late) == ("12345", "files", late)
