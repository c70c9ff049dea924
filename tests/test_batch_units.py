"""The batch's parts that need no grading: finding students, unpacking safely, the
journal, the gradebooks (plain and Canvas), the report, and the CLI's refusals."""

from __future__ import annotations

import csv
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_fixtures.make_class import CORRECT, notebook
from grader.batch.discover import Caps, discover
from grader.batch.journal import Journal, JournalBusy, read_journal, reusable
from grader.batch.unpack import UnpackError, find_module, materialize, resolve, safe_extract
from grader.cli import cli
from grader.registry import load_registry


@pytest.fixture(scope="module")
def softmax_spec():
    return load_registry().get("softmax")


def _zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


# --------------------------------------------------------------------------- discovery


def test_discover_names_each_student_by_the_entry_name(tmp_path):
    (tmp_path / "alice.py").write_text(CORRECT)
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "softmax.py").write_text(CORRECT)
    _zip(tmp_path / "carol.zip", {"carol/softmax.py": CORRECT})
    (tmp_path / "dan.ipynb").write_text(notebook(CORRECT))
    (tmp_path / "doejane_12345_678_softmax.py").write_text(CORRECT)  # Canvas export
    (tmp_path / "doejane_late_12345_679_notes.txt").write_text("notes")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "eve.pdf").write_text("pdf")
    (tmp_path / "fay.py").write_text(CORRECT)
    (tmp_path / "fay").mkdir()
    entries = {e.id: e for e in discover(tmp_path).entries}
    assert sorted(entries) == ["12345", "alice", "bob", "carol", "dan", "eve", "fay"]
    assert [entries[i].kind for i in ("alice", "bob", "carol", "dan")] == ["file", "dir", "zip", "file"]
    assert entries["12345"].kind == "files"
    assert entries["12345"].names == ("notes.txt", "softmax.py")
    assert entries["eve"].kind == "invalid" and "a submission is a folder" in entries["eve"].problem
    assert entries["fay"].kind == "invalid" and "several submissions" in entries["fay"].problem


def test_names_that_are_not_utf8_or_hold_escapes_are_graded_under_their_escaped_form(tmp_path):
    # A name's bytes need not be UTF-8 on Linux; an id must be text every output can hold.
    raw = os.fsencode(tmp_path)
    with open(raw + b"/b\xffad.py", "w") as f:
        f.write(CORRECT)
    os.mkdir(raw + b"/ev\x1bil")
    with open(raw + b"/ev\x1bil/softmax.py", "w") as f:
        f.write(CORRECT)
    with open(raw + b"/ev\x1bil/n\xe9otes.txt", "w") as f:  # a member's name, not UTF-8 either
        f.write("notes")
    entries = {e.id: e for e in discover(tmp_path).entries}
    assert sorted(entries) == ["b\\udcffad", "ev\\x1bil"]
    assert entries["b\\udcffad"].kind == "file" and entries["ev\\x1bil"].kind == "dir"
    assert all(e.digest for e in entries.values())
    # The paths are the real ones: the grader reads the files by them.
    assert os.path.exists(entries["b\\udcffad"].paths[0])


def test_the_digest_follows_the_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "softmax.py").write_text(CORRECT)
    first = discover(tmp_path).entries[0].digest
    assert discover(tmp_path).entries[0].digest == first
    (tmp_path / "a" / "softmax.py").write_text(CORRECT + "\n# changed\n")
    assert discover(tmp_path).entries[0].digest != first


def test_a_folder_too_large_is_reported_not_read(tmp_path):
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "data.bin").write_bytes(b"x" * 2000)
    (entry,) = discover(tmp_path, Caps(max_bytes=1000)).entries
    assert entry.kind == "invalid" and "more than" in entry.problem


# --------------------------------------------------------------------------- unpacking


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "C:/evil.py"])
def test_unsafe_zip_paths_are_refused(tmp_path, name):
    path = _zip(tmp_path / "s.zip", {"softmax.py": CORRECT, name: "x"})
    with pytest.raises(UnpackError, match="unsafe path"):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_zip_bombs_and_garbage_are_refused(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * 5_000_000)
    with pytest.raises(UnpackError, match="zip bomb"):
        safe_extract(bomb, tmp_path / "out", Caps(max_bytes=1_000_000))
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(UnpackError, match="not a readable zip file"):
        safe_extract(tmp_path / "junk.zip", tmp_path / "out2")


def test_links_in_a_zip_are_skipped(tmp_path):
    path = tmp_path / "s.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("softmax.py", CORRECT)
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    safe_extract(path, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["softmax.py"]


@pytest.mark.parametrize(
    "members, found",
    [
        ({"softmax.py": CORRECT}, "softmax.py"),
        ({"alice/softmax/softmax.py": CORRECT}, "alice/softmax/softmax.py"),
        ({"alice/work/week1/softmax.py": CORRECT, "alice/readme.md": "hi"}, "alice/work/week1/softmax.py"),
        ({"doe_12345_678_softmax.py": CORRECT}, "doe_12345_678_softmax.py"),
        ({"softmax-1.py": CORRECT}, "softmax-1.py"),
        ({"softmax (2).py": CORRECT}, "softmax (2).py"),
        ({"softmax.ipynb": notebook(CORRECT), "softmax.py": CORRECT}, "softmax.py"),
    ],
)
def test_modules_are_found_in_the_layouts_students_upload(tmp_path, softmax_spec, members, found):
    root = materialize({"kind": "zip", "paths": [str(_zip(tmp_path / "s.zip", members))], "names": ["s.zip"]}, tmp_path / "sub")
    path, why = find_module(root, softmax_spec)
    assert why == "" and path.relative_to(root).as_posix() == found


def test_two_candidates_are_a_problem_not_a_guess(tmp_path, softmax_spec):
    root = tmp_path / "sub"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "softmax.py").write_text(CORRECT)
    (root / "b" / "softmax.py").write_text(CORRECT)
    sub = resolve(root, [softmax_spec], [softmax_spec], "alice.zip")
    assert "several files could be softmax.py" in sub.problems["softmax"]


def test_messages_never_name_the_scratch_folder(tmp_path, softmax_spec):
    root = tmp_path / "sub"
    root.mkdir()
    (root / "softmax.ipynb").write_text("{ not json")
    sub = resolve(root, [softmax_spec], [softmax_spec], "hank.ipynb", single_file=True)
    assert sub.problems["softmax"].startswith("softmax.ipynb: not a notebook")
    assert str(tmp_path) not in sub.problems["softmax"]


# --------------------------------------------------------------------------- journal


def test_a_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id": "a", "digest": "d", "fingerprint": "f"}\n{"id": "b", "dig')
    assert [d["id"] for d in read_journal(path)] == ["a"]
    journal = Journal(tmp_path)
    journal.append({"id": "c"})
    journal.close()
    assert path.read_text().splitlines()[1] == '{"id":"c"}'
    assert [d["id"] for d in read_journal(path)] == ["a", "c"]


def test_one_batch_at_a_time_per_results_folder(tmp_path):
    first = Journal(tmp_path)
    with pytest.raises(JournalBusy):
        Journal(tmp_path)
    first.close()
    Journal(tmp_path).close()


def test_a_line_is_reused_only_for_the_same_submission_checks_and_options():
    line = {"id": "a", "digest": "d", "fingerprint": "f", "retry": False}
    assert reusable(line, "d", "f")
    assert not reusable(line, "changed", "f")
    assert not reusable(line, "d", "other checks")
    assert not reusable(dict(line, retry=True), "d", "f")
    assert not reusable(None, "d", "f")


# --------------------------------------------------------------------------- outputs


def _line(sid: str, score: float, message: str = "", status: str = "graded", error: str = "", mistake: str = "") -> dict:
    checks = [
        {"name": "test_a", "points": score, "max_points": 3.0, "status": "passed" if score == 3 else "failed", "message": message,
         **({"mistake": mistake} if mistake else {})},
        {"name": "test_hidden", "points": 1.0, "max_points": 1.0, "status": "passed", "message": "", "hidden": True},
    ]
    exercises = [] if status == "error" else [{"exercise": "softmax", "score": score + 1, "max_score": 4.0, "device": "cpu", "seconds": 0.1, "checks": checks}]
    return {"id": sid, "digest": "d", "fingerprint": "f", "status": status, "error": error, "retry": False, "exercises": exercises}


def _class(softmax_spec, lines, missing=()):
    from grader.batch.records import build

    return build([softmax_spec], {d["id"]: d for d in lines}, {d["id"]: f"{d['id']}.py" for d in lines}, missing)


def test_canvas_import_layout_from_a_canvas_roster(tmp_path, softmax_spec):
    from grader.batch.gradebook import load_roster, write_canvas, write_grades

    roster_path = tmp_path / "roster.csv"
    with open(roster_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quiz 1 (77)"])
        w.writerow(["    Points Possible", "", "", "", "", "10"])
        w.writerow(["Doe, Jane", "12345", "s001", "jdoe", "A", "9"])
        w.writerow(["Roe, Rick", "12346", "s002", "rroe", "A", "7"])
        w.writerow(["Poe, Pat", "12347", "s003", "ppoe", "B", "8"])
    roster = load_roster(roster_path)
    results = _class(softmax_spec, [_line("12345", 3), _line("jdoe2", 0, "off"), _line("s002", 0, "wrong")], missing=["12347"])
    unmatched = write_canvas(results, roster, tmp_path / "canvas.csv", "Transformers (42)")
    assert unmatched == ["jdoe2"]
    with open(tmp_path / "canvas.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Transformers (42)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert rows[2:] == [
        ["Doe, Jane", "12345", "s001", "jdoe", "A", "4"],
        ["Roe, Rick", "12346", "s002", "rroe", "A", "1"],
        ["Poe, Pat", "12347", "s003", "ppoe", "B", ""],  # no submission: Canvas leaves it alone
    ]
    write_grades(results, tmp_path / "grades.csv", roster)
    with open(tmp_path / "grades.csv", newline="") as f:
        grades = {r["student"]: r for r in csv.DictReader(f)}
    assert grades["12345"]["name"] == "Doe, Jane" and grades["12345"]["total"] == "4"
    assert grades["12347"]["status"] == "missing" and grades["12347"]["total"] == "0"


def test_errored_students_get_every_exercise_at_zero_out_of_its_maximum(softmax_spec):
    results = _class(softmax_spec, [_line("a", 3), _line("b", 0, status="error", error="not a readable zip file")])
    b = next(s for s in results.students if s.id == "b")
    assert b.total == 0 and results.maxima["softmax"] == 4.0
    assert b.results["softmax"].max_score == 4.0
    assert b.results["softmax"].checks[0].message == "not a readable zip file"


def test_report_counts_known_mistakes_and_failing_checks(softmax_spec):
    from grader.batch.report import render

    # The report counts the mistake each result records (CheckResult.mistake), not what a message says.
    msg = "softmax(x) differs from the reference: max abs error 1. This looks like a known mistake: no max subtraction"
    lines = [_line("a", 0, msg, mistake="no max subtraction"), _line("b", 0, msg, mistake="no max subtraction"),
             _line("c", 3), _line("d", 0, "This looks like a known mistake: said, not recorded")]
    html = render(_class(softmax_spec, lines))
    assert "said, not recorded</td>" not in html
    assert "no max subtraction</td><td class=\"num\">2</td>" in html
    assert "<td>test_a</td><td class=\"num\">3</td><td class=\"num\">75%</td>" in html
    assert "Every submission was graded." in html


# --------------------------------------------------------------------------- CLI refusals (no grading)


def _batch(*args):
    return CliRunner().invoke(cli, ["batch", *map(str, args)])


def test_cli_refusals_are_one_line(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    cases = [
        ((subs, "--out", subs / "results"), "must not be inside SUBMISSIONS"),
        ((tmp_path / "nowhere", "--out", tmp_path / "o1"), "must be a folder"),
        ((subs, "--out", tmp_path / "o2", "--exercises", "sofmax"), "no exercise named 'sofmax'"),
        ((subs, "--out", tmp_path / "o3", "--canvas"), "--canvas needs --roster"),
        ((subs, "--out", tmp_path / "o4", "--resume", "--force"), "contradict"),
        ((subs, "--out", "/proc/no-results-here"), "cannot write RESULTS /proc/no-results-here"),
    ]
    for args, message in cases:
        result = _batch(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_force_clears_the_outputs_of_an_earlier_batch(tmp_path):
    from grader.batch.run import BatchOptions, _prepare_out

    out = tmp_path / "out"
    (out / "students" / "a").mkdir(parents=True)
    (out / "journal.jsonl").write_text('{"id": "a"}\n')
    (out / "grades.csv").write_text("student\n")
    (out / "notes.txt").write_text("the instructor's own file")
    _prepare_out(BatchOptions(tmp_path, out, force=True))
    assert sorted(os.listdir(out)) == ["notes.txt"]


def test_an_empty_class_writes_empty_outputs(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    result = _batch(subs, "--out", tmp_path / "out", "--exercises", "softmax", "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["students"] == 0
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        assert list(csv.reader(f)) == [["student", "softmax", "total", "status", "note"]]


def test_an_archive_that_cannot_be_unpacked_says_why_without_the_graders_paths(tmp_path):
    # A folder entry softmax.py/ then a file softmax.py: extraction fails; the message names
    # the member, never the slot's scratch folder (it differs between runs, and is ours).
    from grader.batch.job import JobOptions, grade_job

    archive = tmp_path / "dirfile.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("softmax.py/", "")
        z.writestr("softmax.py", CORRECT)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    job = {"id": "dirfile", "label": "dirfile.zip", "options": JobOptions(["softmax"]).to_json(),
           "source": {"kind": "zip", "paths": [str(archive)], "names": ["dirfile.zip"]}}  # fmt: skip
    result = grade_job(job, None, scratch)
    assert result["status"] == "error" and "cannot extract softmax.py" in result["error"], result
    assert str(scratch) not in json.dumps(result) and str(tmp_path) not in result["error"]
