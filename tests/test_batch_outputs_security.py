"""What the batch's outputs must never do, whatever a submission is named or says:
run as a spreadsheet formula (grades.csv, canvas.csv), put a score on the wrong roster
row, or give away a hidden check's message (feedback, Gradescope, JUnit, report).

Records are built from journal-like lines, as in test_batch_units: no grading, no torch.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.batch.gradebook import RosterError, load_roster, safe_cell, write_canvas, write_grades
from grader.batch.records import build
from grader.cli import cli
from grader.registry import load_registry

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tX", "\rX"]
SECRET = "expected tensor([0.1, 0.2])"
HIDDEN = "test_non_contiguous_input"


@pytest.fixture(scope="module")
def softmax_spec():
    return load_registry().get("softmax")


def _line(sid: str, score: float = 3.0, message: str = "", hidden_status: str = "passed", hidden_message: str = "",
          error: str = "", mistake: str = "") -> dict:  # fmt: skip
    hidden_points = 1.0 if hidden_status == "passed" else 0.0
    checks = [
        {"name": "test_a", "points": score, "max_points": 3.0, "status": "passed" if score == 3 else "failed", "message": message,
         **({"mistake": mistake} if mistake else {})},
        {"name": HIDDEN, "points": hidden_points, "max_points": 1.0, "status": hidden_status, "message": hidden_message, "hidden": True},
    ]
    status = "error" if error else "graded"
    exercises = [] if error else [{"exercise": "softmax", "score": score + hidden_points, "max_score": 4.0, "device": "cpu", "seconds": 0.1, "checks": checks}]
    return {"id": sid, "digest": "d", "fingerprint": "f", "status": status, "error": error, "retry": False, "exercises": exercises}


def _class(spec, lines, missing=()):
    return build([spec], {d["id"]: d for d in lines}, {d["id"]: f"{d['id']}.py" for d in lines}, missing)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _roster(path: Path, rows: list[list[str]]):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"])
        w.writerows(rows)
    return load_roster(path)


def _dangerous(cell: str) -> bool:
    """Would a spreadsheet take this cell for a formula? (A plain number is data.)"""
    try:
        float(cell)
        return cell.startswith("+")
    except ValueError:
        return cell.startswith(("=", "+", "-", "@", "\t", "\r"))


# --------------------------------------------------------------------------- CSV injection


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_cell_gets_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value, cell", [(-1.5, "-1.5"), (0.0, "0"), (3, "3"), (4.25, "4.25"), ("-1.5", "-1.5"),
                                         ("0", "0"), ("12345", "12345"), ("", ""), ("jdoe", "jdoe"), ("-", "'-")])  # fmt: skip
def test_numbers_stay_numbers_and_plain_text_stays_as_is(value, cell):
    assert safe_cell(value) == cell


def test_grades_csv_neutralizes_ids_names_and_notes(tmp_path, softmax_spec):
    lines = [_line(sid, 0.0, "wrong") for sid in FORMULAS]
    lines.append(_line("=cmd|'/C calc'!A0", error="-not a readable zip file"))
    roster = _roster(tmp_path / "roster.csv", [["=HYPERLINK(\"http://evil\")", "1", "", sid, "A"] for sid in FORMULAS])
    write_grades(_class(softmax_spec, lines), tmp_path / "grades.csv", roster)
    rows = _rows(tmp_path / "grades.csv")
    assert rows[0] == ["student", "name", "softmax", "total", "status", "note"]
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if _dangerous(c)]
    ids = {r[0] for r in rows[1:]}
    assert ids == {"'" + t for t in FORMULAS} | {"'=cmd|'/C calc'!A0"}
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["'+1"][1] == "'=HYPERLINK(\"http://evil\")"
    assert by_id["'=cmd|'/C calc'!A0"][5] == "'-not a readable zip file"
    # Scores are numbers, untouched.
    assert by_id["'+1"][2:4] == ["1", "1"] and by_id["'=cmd|'/C calc'!A0"][2:4] == ["0", "0"]


def test_negative_and_zero_scores_stay_numeric(tmp_path, softmax_spec):
    # A penalty can make a score negative: it must stay a number, not become text.
    doc = _line("alice", -1.5)
    write_grades(_class(softmax_spec, [doc, _line("bob", 0.0, hidden_status="failed")]), tmp_path / "grades.csv")
    rows = {r[0]: r for r in _rows(tmp_path / "grades.csv")[1:]}
    assert rows["alice"][1:3] == ["-0.5", "-0.5"]
    assert rows["bob"][1:3] == ["0", "0"]
    assert float(rows["alice"][2]) == -0.5


def test_canvas_csv_neutralizes_roster_cells_and_keeps_scores_numeric(tmp_path, softmax_spec):
    roster = _roster(tmp_path / "roster.csv", [
        ["@SUM(A1)", "101", "", "+1", "-2+3"],
        ["\tX", "102", "\rX", "bob", "B"],
        ["Carol", "103", "", "carol", "=1+1"],
    ])  # fmt: skip
    results = _class(softmax_spec, [_line("+1", 3.0), _line("bob", 0.0), _line("103", -1.5)])
    assert write_canvas(results, roster, tmp_path / "canvas.csv", "=IMPORTXML(1)") == []
    rows = _rows(tmp_path / "canvas.csv")
    assert rows[0][-1] == "'=IMPORTXML(1)"
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert rows[2:] == [
        ["'@SUM(A1)", "101", "", "'+1", "'-2+3", "4"],
        ["'\tX", "102", "'\rX", "bob", "B", "1"],
        ["Carol", "103", "", "carol", "'=1+1", "-0.5"],
    ]
    assert not [c for row in rows for c in row if _dangerous(c)]


# --------------------------------------------------------------------------- roster matching


def _collision_roster(tmp_path):
    # Rick's login is Jane's Canvas ID: a submission named 12345 could be either's.
    return _roster(tmp_path / "roster.csv", [["Doe, Jane", "12345", "s001", "jdoe", "A"], ["Roe, Rick", "12346", "s002", "12345", "A"]])


def test_one_id_matching_two_rows_is_refused_naming_both(tmp_path, softmax_spec):
    roster = _collision_roster(tmp_path)
    results = _class(softmax_spec, [_line("12345", 3.0)])
    for write in (lambda: write_canvas(results, roster, tmp_path / "canvas.csv", "A"),
                  lambda: write_grades(results, tmp_path / "grades.csv", roster)):  # fmt: skip
        with pytest.raises(RosterError) as info:
            write()
        message = str(info.value)
        assert "ambiguous" in message and "'12345'" in message
        assert "Doe, Jane" in message and "Roe, Rick" in message and "\n" not in message
    assert not (tmp_path / "canvas.csv").exists()  # refused before a row was written


def test_two_submissions_matching_one_row_are_refused_naming_both(tmp_path, softmax_spec):
    roster = _collision_roster(tmp_path)
    results = _class(softmax_spec, [_line("s001", 3.0), _line("jdoe", 0.0)])
    with pytest.raises(RosterError) as info:
        write_canvas(results, roster, tmp_path / "canvas.csv", "A")
    message = str(info.value)
    assert "'s001'" in message and "'jdoe'" in message and "Doe, Jane" in message
    assert not (tmp_path / "canvas.csv").exists()


def test_an_unambiguous_roster_with_a_collision_nobody_uses_still_works(tmp_path, softmax_spec):
    # Jane submitted under her login, Rick under his Canvas ID: each names one row.
    roster = _collision_roster(tmp_path)
    results = _class(softmax_spec, [_line("jdoe", 3.0), _line("12346", 0.0)])
    assert write_canvas(results, roster, tmp_path / "canvas.csv", "A") == []
    assert [r[-1] for r in _rows(tmp_path / "canvas.csv")[2:]] == ["4", "1"]


def test_a_missing_student_is_named_by_their_own_row(tmp_path, softmax_spec):
    # Jane submitted nothing; her id 12345 is also Rick's login, yet her row is hers.
    roster = _collision_roster(tmp_path)
    write_grades(_class(softmax_spec, [_line("12346", 3.0)], missing=["12345"]), tmp_path / "grades.csv", roster)
    rows = {r[0]: r for r in _rows(tmp_path / "grades.csv")[1:]}
    assert rows["12345"][1] == "Doe, Jane" and rows["12345"][4] == "missing"
    assert rows["12346"][1] == "Roe, Rick"


def test_grade_batch_refuses_an_ambiguous_roster_before_grading(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "12345.py").write_text("raise SystemExit('graded although the roster is ambiguous')\n")
    _collision_roster(tmp_path)
    out = tmp_path / "out"
    args = ["batch", str(subs), "--out", str(out), "--exercises", "softmax", "--roster", str(tmp_path / "roster.csv"),
            "--canvas", "--seed", "0", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "ambiguous" in result.output and "Doe, Jane" in result.output and "Roe, Rick" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (out / "canvas.csv").exists() and not (out / "grades.csv").exists()
    assert (out / "journal.jsonl").read_text() == ""  # nobody was graded


# --------------------------------------------------------------------------- hidden checks


@pytest.fixture
def leaky_class(softmax_spec):
    """A class where a hidden check fails (and one where it errors) with its inputs and reference in the message."""
    visible = "softmax(x) differs from the reference. This looks like a known mistake: no max subtraction"
    return _class(softmax_spec, [
        _line("alice", 0.0, visible, hidden_status="failed", hidden_message=f"softmax(x) for x = tensor([1., 2.]): {SECRET}",
              mistake="no max subtraction"),
        _line("bob", 0.0, visible, hidden_status="error", hidden_message=f"grader error in the check: {SECRET}",
              mistake="no max subtraction"),
        _line("carol", 3.0),
    ])  # fmt: skip


def _outputs(results, tmp_path) -> dict[str, str]:
    from grader.batch.feedback import feedback_text
    from grader.batch.gradescope import document
    from grader.batch.junit import write_junit
    from grader.batch.report import render

    alice = next(s for s in results.students if s.id == "alice")
    bob = next(s for s in results.students if s.id == "bob")
    write_junit(results, tmp_path / "junit.xml")
    return {
        "feedback.txt": feedback_text(alice, results) + feedback_text(bob, results),
        "results.json": json.dumps(document(alice, results)) + json.dumps(document(bob, results)),
        "result.json": json.dumps([r.to_json() for s in (alice, bob) for r in s.results.values()]),
        "junit.xml": (tmp_path / "junit.xml").read_text(),
        "report.html": render(results),
    }


def test_a_hidden_checks_message_reaches_no_output_but_its_name_does(leaky_class, tmp_path):
    for name, text in _outputs(leaky_class, tmp_path).items():
        assert "tensor([" not in text and "0.1, 0.2" not in text, name
        assert HIDDEN in text, name


def test_a_hidden_check_keeps_its_result_and_points(leaky_class, tmp_path):
    from grader.batch.feedback import feedback_text
    from grader.batch.gradescope import document

    alice = next(s for s in leaky_class.students if s.id == "alice")
    assert f"[FAIL] {HIDDEN} (hidden)  0/1" in feedback_text(alice, leaky_class)
    (test,) = [t for t in document(alice, leaky_class)["tests"] if t["name"] == f"softmax: {HIDDEN}"]
    assert (test["status"], test["score"], test["max_score"], test["visibility"]) == ("failed", 0.0, 1.0, "after_published")
    _outputs(leaky_class, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {f"{c.get('classname')}/{c.get('name')}": c for c in root.iter("testcase")}
    assert cases[f"alice.softmax/{HIDDEN}"].find("failure") is not None
    assert cases[f"bob.softmax/{HIDDEN}"].find("error") is not None


def test_hidden_messages_are_dropped_even_from_records_built_by_hand(tmp_path, softmax_spec):
    # A writer must not rely on records.build having redacted: each asks shown_message.
    from grader.batch.feedback import feedback_text
    from grader.batch.gradescope import document
    from grader.batch.junit import write_junit
    from grader.batch.records import StudentRecord
    from grader.batch.report import render
    from grader.results import CheckResult, ExerciseResult

    results = _class(softmax_spec, [_line("alice", 3.0)])
    check = CheckResult(HIDDEN, 0.0, 1.0, "failed", SECRET, hidden=True)
    exercise = ExerciseResult("softmax", "cpu", checks=[check])
    results.students[0] = StudentRecord("alice", "graded", "alice.py", results={"softmax": exercise})
    write_junit(results, tmp_path / "junit.xml")
    for text in (feedback_text(results.students[0], results), json.dumps(document(results.students[0], results)),
                 (tmp_path / "junit.xml").read_text(), render(results)):  # fmt: skip
        assert SECRET not in text and HIDDEN in text


def test_known_mistakes_are_still_counted_for_visible_checks(leaky_class):
    from grader.batch.report import render

    html = render(leaky_class)
    assert "no max subtraction</td><td class=\"num\">2</td>" in html
    assert "hidden check: its inputs and messages are not shown" in html


def test_no_file_a_batch_writes_holds_a_hidden_message(tmp_path, softmax_spec):
    # Through run.write_outputs: every file in RESULTS but the journal, result.json included.
    from grader.batch.run import BatchOptions, write_outputs

    lines = {
        "alice": _line("alice", 0.0, hidden_status="failed", hidden_message=SECRET),
        "=evil": _line("=evil", 3.0, hidden_status="error", hidden_message=SECRET),
    }
    roster = _roster(tmp_path / "roster.csv", [["Alice", "1", "", "alice", "A"], ["Eve", "2", "", "=evil", "A"]])
    out = tmp_path / "out"
    out.mkdir()
    opts = BatchOptions(tmp_path, out, canvas=True)
    write_outputs(out, [softmax_spec], lines, {k: f"{k}.py" for k in lines}, roster, [], opts)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    names = {str(p.relative_to(out)) for p in files}
    assert {"grades.csv", "canvas.csv", "junit.xml", "report.html", "students/alice/result.json",
            "students/alice/feedback.txt", "students/alice/results.json"} <= names  # fmt: skip
    for path in files:
        assert "tensor([" not in path.read_text(), path
    for name in ("grades.csv", "canvas.csv"):
        assert not [c for row in _rows(out / name) for c in row if _dangerous(c)], name


UNPRINTABLE = "lone \ud800 surrogate, \x1b[2J\x1b[31m escapes, \x00 NUL, \u202e reversed, \x85 NEL, \r return"


def test_every_output_is_written_whatever_text_a_journal_holds(tmp_path, softmax_spec):
    # A submission chose this message (or a journal written before it was cleaned holds it):
    # every file is still written, parses as its format, and shows the text as escapes.
    from grader.batch.run import BatchOptions, write_outputs

    lines = {"alice": _line("alice", 0.0, message=UNPRINTABLE), "bob": _line("bob", 3.0)}
    lines["carol"] = _line("carol", error=f"could not unpack: {UNPRINTABLE}")
    labels = {"alice": f"alice{chr(0x1b)}[31m.py", "bob": "bob.py", "carol": "carol.zip"}
    out = tmp_path / "out"
    out.mkdir()
    write_outputs(out, [softmax_spec], lines, labels, None, [], BatchOptions(tmp_path, out))
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {"grades.csv", "junit.xml", "report.html", "students/alice/feedback.txt"} <= {str(p.relative_to(out)) for p in files}
    for path in files:
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")  # strict UTF-8; CSV's own line ends
        assert not [ch for ch in text if ch in "\x00\x1b\x85\r\u202e" or 0xD800 <= ord(ch) <= 0xDFFF], path
    ET.parse(out / "junit.xml")  # XML 1.0 allows no control characters
    feedback = " ".join((out / "students" / "alice" / "feedback.txt").read_text().split())  # unwrapped
    assert "lone \\ud800 surrogate, \\x1b[2J\\x1b[31m escapes, \\x00 NUL, \\u202e reversed, \\x85 NEL, \\x0d return" in feedback
    assert "\\x1b" in (out / "report.html").read_text()


def test_printable_escapes_only_what_cannot_be_shown():
    from grader.safe_text import printable, printable_tree

    kept = "tab\tnewline\nünïcödé ✓ 😀 \ufffd"
    assert printable(kept) == kept
    assert printable(UNPRINTABLE) == ("lone \\ud800 surrogate, \\x1b[2J\\x1b[31m escapes, \\x00 NUL, \\u202e reversed, "
                                      "\\x85 NEL, \\x0d return")  # fmt: skip
    assert printable(3) == "3"
    assert printable_tree({"a\x00": ["\x1b", 1, None, {"b": "\ud800"}]}) == {"a\\x00": ["\\x1b", 1, None, {"b": "\\ud800"}]}
