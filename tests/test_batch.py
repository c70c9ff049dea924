"""``grade batch`` over a generated class: the grades, every output, SIGKILL and resume,
a wall-clock limit per submission, hostile code that tries to forge results, and a real
Dask LocalCluster giving the same results as the local pool.

The class (tests/batch_fixtures/make_class.py) is written into a temporary folder; every
batch here grades softmax only, on two workers, with a 1 s limit per call so the
endless loop costs little.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_fixtures.make_class import CORRECT, LOOP_AT_IMPORT, forger_source, make_class
from grader.cli import cli

# One seed for every batch here (a grading seed, not one a kit records), so batches in
# different RESULTS folders (an uninterrupted one, a resumed one, one on Dask) can be
# compared; a batch's own seed (its nonce) is tested in test_secret_seed.py.
BATCH_SEED = 2**20 + 7
OPTIONS = ["--exercises", "softmax", "--workers", "2", "--call-timeout", "1", "--timeout", "30", "--no-progress",
           "--seed", str(BATCH_SEED)]  # fmt: skip
GRADESCOPE_TEST_FIELDS = {"name", "score", "max_score", "status", "output", "visibility"}


def batch(*args: str):
    result = CliRunner().invoke(cli, ["batch", *map(str, args)])
    return result


def journal_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]


def base(name: str) -> str:
    return name.split("[")[0]


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    expected = make_class(root / "submissions")
    return root / "submissions", expected


@pytest.fixture(scope="module")
def graded(klass, tmp_path_factory) -> Path:
    subs, _ = klass
    out = tmp_path_factory.mktemp("results") / "results"
    result = batch(subs, "--out", out, *OPTIONS)
    assert result.exit_code == 0, result.output
    assert "29 students" in result.output
    return out


def _docs(out: Path, sid: str) -> list[dict]:
    return json.loads((out / "students" / sid / "result.json").read_text())


# --------------------------------------------------------------------------- grades


@pytest.mark.slow
def test_every_student_gets_the_expected_grade(klass, graded):
    _, expected = klass
    lines = {doc["id"]: doc for doc in journal_lines(graded)}
    assert sorted(lines) == sorted(expected), "one journal line per student, nothing else"
    for sid, want in expected.items():
        doc = lines[sid]
        assert doc["status"] == want.status, (sid, doc["error"])
        (ex,) = _docs(graded, sid)
        text = " ".join([doc["error"], ex.get("problem", "")] + [c["message"] for c in ex["checks"]])
        assert want.text in text, (sid, text[:600])
        statuses = {c["name"]: c["status"] for c in ex["checks"]}
        if want.status == "error":
            assert ex["score"] == 0 and ex["max_score"] > 0, sid
            continue
        if want.full:
            assert ex["score"] == ex["max_score"] > 0, (sid, ex)
        if want.zero:
            assert ex["score"] == 0 and all(s != "passed" for s in statuses.values()), (sid, statuses)
        if want.fails:
            failed = {base(n) for n, s in statuses.items() if s != "passed"}
            assert failed == set(want.fails), (sid, failed)
            lost = sum(c["max_points"] for c in ex["checks"] if base(c["name"]) in want.fails)
            assert ex["score"] == ex["max_score"] - lost, sid


@pytest.mark.slow
def test_batch_grades_exactly_as_grade_exercise(klass, graded):
    from conftest import grade_file
    from grader.batch.records import public_check
    from grader.sandbox import Limits

    subs, _ = klass
    (ex,) = _docs(graded, "walt")
    # The batch drew walt's inputs from walt's own seed, stored with the result: the same
    # seed gives the same verdicts and messages.
    alone = grade_file("softmax", subs / "walt.py", seed=ex["seed"], limits=Limits(call_seconds=1, exercise_seconds=30))
    # Batch outputs never show a hidden check's message or mistake (see records.public_check).
    assert [public_check(c).to_json() for c in alone.checks] == ex["checks"]


# --------------------------------------------------------------------------- outputs


@pytest.mark.slow
def test_grades_csv_reads_back_with_csv(klass, graded):
    _, expected = klass
    with open(graded / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == sorted(expected)
    by_id = {r["student"]: r for r in rows}
    for sid, want in expected.items():
        (ex,) = _docs(graded, sid)
        assert float(by_id[sid]["softmax"]) == ex["score"] == float(by_id[sid]["total"])
        assert by_id[sid]["status"] == want.status
    assert "not a readable zip file" in by_id["broken"]["note"]


@pytest.mark.slow
def test_gradescope_results_follow_the_documented_schema(klass, graded):
    _, expected = klass
    for sid in expected:
        doc = json.loads((graded / "students" / sid / "results.json").read_text())
        assert isinstance(doc["score"], (int, float))
        assert isinstance(doc["tests"], list) and doc["tests"]
        for test in doc["tests"]:
            assert set(test) == GRADESCOPE_TEST_FIELDS, test
            assert test["status"] in ("passed", "failed")
            assert test["visibility"] in ("visible", "after_published")
            assert isinstance(test["output"], str) and isinstance(test["name"], str)
            assert 0 <= test["score"] <= test["max_score"]
        assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))
    (ex,) = _docs(graded, "walt")
    hidden = {f"softmax: {c['name']}" for c in ex["checks"] if c.get("hidden")}
    tests = json.loads((graded / "students" / "walt" / "results.json").read_text())["tests"]
    assert {t["name"] for t in tests if t["visibility"] == "after_published"} == hidden


@pytest.mark.slow
def test_feedback_and_junit(klass, graded):
    text = (graded / "students" / "nora" / "feedback.txt").read_text()
    assert text.startswith("Grade for nora: ")
    assert "[FAIL] test_large_inputs_stay_finite" in text and "no max subtraction" in text
    assert "could not be graded" in (graded / "students" / "broken" / "feedback.txt").read_text()
    root = ET.parse(graded / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == set(klass[1])
    assert int(suites["alice"].get("failures")) == 0
    assert int(suites["nora"].get("failures")) >= 1
    assert suites["broken"].find("testcase/error") is not None


class _Report(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.images, self.plots, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "svg":
            self.plots.append(attrs.get("role"))

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.slow
def test_report_is_one_page_with_its_sections_and_embedded_plots(graded):
    import re
    import xml.etree.ElementTree as ET

    html = (graded / "report.html").read_text()
    report = _Report()
    report.feed(html)
    assert report.sections == ["summary", "histograms", "failing-checks", "known-mistakes", "errors", "students"]
    assert report.images == []  # nothing to fetch: the page stands alone
    assert report.plots == ["img", "img"]  # inline SVG histograms: softmax and the total
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        assert ET.fromstring(svg).find("{http://www.w3.org/2000/svg}rect") is not None  # well-formed, with a bar
    text = " ".join(report.text)
    assert "softmax taken over the wrong dimension" in text  # a known mistake
    assert "broken.zip is not a readable zip file" in text  # an errored student
    assert "test_large_inputs_stay_finite" in text  # a check many fail


# --------------------------------------------------------------------------- resume


def _outputs(out: Path) -> dict[str, object]:
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if not path.is_file() or rel in ("journal.jsonl", ".lock") or rel.startswith("logs/"):
            continue
        if path.name == "result.json":
            docs = json.loads(path.read_text())
            for doc in docs:
                doc.pop("seconds", None)  # a duration: the one thing that differs between runs
            files[rel] = docs
        else:
            files[rel] = path.read_bytes()
    return files


@pytest.mark.slow
def test_sigkill_mid_batch_then_resume_gives_identical_outputs(klass, graded, tmp_path):
    subs, expected = klass
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "grader.cli", "batch", str(subs), "--out", str(out), *OPTIONS]
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 180
        journal = out / "journal.jsonl"
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 8:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = journal_lines(out)
    assert 8 <= len(before) < len(expected)

    result = batch(subs, "--out", out, *OPTIONS, "--resume")
    assert result.exit_code == 0, result.output
    assert f"({len(before)} from the journal)" in result.output
    after = journal_lines(out)
    ids = [doc["id"] for doc in after]
    assert sorted(ids) == sorted(expected), "every student exactly once: nothing lost, nothing counted twice"
    assert after[: len(before)] == before
    assert _outputs(out) == _outputs(graded)


@pytest.mark.slow
def test_resume_grades_only_what_is_new_or_changed_and_refuses_without_it(tmp_path):
    from grader.batch.discover import discover
    from grader.batch.job import JobOptions, fingerprint

    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    out.mkdir()
    for sid in ("amy", "ben", "cat"):
        (subs / f"{sid}.py").write_text(CORRECT)
    digests = {e.id: e.digest for e in discover(subs).entries}
    fp = fingerprint(JobOptions(["softmax"], seed=BATCH_SEED, timeout=30, call_timeout=1))
    fps = {"amy": fp, "ben": fp}
    made_up = {"exercise": "softmax", "score": 7.0, "max_score": 16.0, "device": "cpu", "seconds": 0.0,
               "checks": [{"name": "test_made_up", "points": 7.0, "max_points": 16.0, "status": "failed", "message": "x"}]}
    lines = [
        {"id": "amy", "digest": digests["amy"], "fingerprint": fps["amy"], "status": "graded", "error": "", "exercises": [made_up]},
        {"id": "ben", "digest": "an older submission", "fingerprint": fps["ben"], "status": "graded", "error": "", "exercises": [made_up]},
    ]  # fmt: skip
    (out / "journal.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines) + '{"id": "cat", "sta')

    opts = [*OPTIONS[:2], "--workers", "1", *OPTIONS[4:]]
    refused = batch(subs, "--out", out, *opts)
    assert refused.exit_code == 2
    assert "is not empty: add --resume" in refused.output and "Traceback" not in refused.output

    resumed = batch(subs, "--out", out, *opts, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "(1 from the journal)" in resumed.output
    # amy's line was reused as is; ben's changed submission and cat's (torn line) were graded.
    assert [d["id"] for d in journal_lines(out)] == ["amy", "ben", "ben", "cat"]
    with open(out / "grades.csv", newline="") as f:
        totals = {r["student"]: float(r["total"]) for r in csv.DictReader(f)}
    assert totals["amy"] == 7.0 and totals["ben"] == totals["cat"] > 7.0


@pytest.mark.slow
def test_the_whole_course_in_one_batch(tmp_path):
    """No --exercises: every installed exercise, each a column of the gradebook."""
    from grader.registry import load_registry

    specs = load_registry().ordered()
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "full").mkdir(parents=True)
    for spec in specs:
        shutil.copy(spec.solution, subs / "full" / f"{spec.module}.py")
    with __import__("zipfile").ZipFile(subs / "part.zip", "w") as z:
        z.writestr("part/softmax/softmax.py", CORRECT)
    roster = tmp_path / "roster.csv"  # as Canvas exports it: the submissions are named by SIS login
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        "    Points Possible,,,,\n"
        "\"Full, Fay\",101,s101,full,A\n"
        "\"Part, Pat\",102,s102,part,A\n"
        "\"Absent, Abe\",103,s103,abe,B\n"
    )
    result = batch(subs, "--out", out, "--workers", "2", "--timeout", "300", "--no-progress",
                   "--roster", roster, "--canvas", "--assignment", "Course (42)")  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out / "grades.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["student", "name", *[s.name for s in specs], "total", "status", "note"]
        rows = {r["student"]: r for r in reader}
    full = {d["exercise"]: d for d in _docs(out, "full")}
    part = {d["exercise"]: d for d in _docs(out, "part")}
    for spec in specs:
        assert full[spec.name]["score"] == full[spec.name]["max_score"] > 0, (spec.name, full[spec.name])
        assert part[spec.name]["max_score"] == full[spec.name]["max_score"]
        if spec.name != "softmax":
            assert part[spec.name]["score"] == 0
            assert f"no {spec.module}.py" in part[spec.name]["problem"]
    assert part["softmax"]["score"] == part["softmax"]["max_score"]
    max_total = sum(d["max_score"] for d in full.values())
    assert float(rows["full"]["total"]) == max_total and rows["full"]["name"] == "Full, Fay"
    assert rows["103"]["status"] == "missing" and rows["103"]["name"] == "Absent, Abe"  # by Canvas ID
    with open(out / "canvas.csv", newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Course (42)"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) == max_total
    assert canvas[2] == ["Full, Fay", "101", "s101", "full", "A", f"{max_total:g}"]
    assert canvas[3][:5] == ["Part, Pat", "102", "s102", "part", "A"] and float(canvas[3][5]) == part["softmax"]["score"]
    assert canvas[4] == ["Absent, Abe", "103", "s103", "abe", "B", ""]


# --------------------------------------------------------------------------- limits and hostility


@pytest.mark.slow
def test_time_limit_per_submission_and_code_that_tries_to_forge_results(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "a_stuck.py").write_text(LOOP_AT_IMPORT)
    (subs / "b_forger.py").write_text(forger_source(out / "journal.jsonl", subs / "c_alice.py"))
    (subs / "c_alice.py").write_text(CORRECT)
    result = batch(subs, "--out", out, "--exercises", "softmax", "--workers", "1", "--timeout", "8", "--no-progress")
    assert result.exit_code == 0, result.output
    lines = {d["id"]: d for d in journal_lines(out)}
    assert lines["a_stuck"]["status"] == "error"
    assert "stopped after 8 s" in lines["a_stuck"]["error"]
    # The slot recovered: the next students were graded on their merits.
    assert lines["c_alice"]["exercises"][0]["score"] == lines["c_alice"]["exercises"][0]["max_score"] > 0
    # RESULTS and SUBMISSIONS are outside the forger's jail (grade batch grades nobody without one).
    assert sorted(lines) == ["a_stuck", "b_forger", "c_alice"]
    assert len(journal_lines(out)) == 3
    assert (subs / "c_alice.py").read_text() == CORRECT


# --------------------------------------------------------------------------- cluster


CLUSTER_SUBSET = ["alice.py", "erin.zip", "smithjane_4242_99001_softmax-1.py", "walt.py", "nora", "quitter.py",
                  "flooder.py", "killer.py", "broken.zip", "hank.ipynb"]  # fmt: skip


@pytest.mark.slow
def test_dask_cluster_grades_like_the_local_pool(klass, graded, tmp_path):
    from distributed import LocalCluster

    subs, _ = klass
    subset = tmp_path / "subs"
    subset.mkdir()
    for name in CLUSTER_SUBSET:
        src = subs / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, subset / name)
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        result = batch(subset, "--out", out, *OPTIONS, "--cluster", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert "on the cluster at tcp://127.0.0.1" in result.output
    local = {d["id"]: d for d in journal_lines(graded)}
    remote = journal_lines(out)
    assert len(remote) == len(CLUSTER_SUBSET)
    for doc in remote:
        mine = local[doc["id"]]
        assert (doc["status"], doc["error"], doc["digest"], doc["fingerprint"]) == (
            mine["status"], mine["error"], mine["digest"], mine["fingerprint"]
        ), doc["id"]
        strip = lambda exs: [{k: v for k, v in ex.items() if k != "seconds"} for ex in exs]  # noqa: E731
        assert strip(doc["exercises"]) == strip(mine["exercises"]), doc["id"]


def test_an_unreachable_cluster_is_one_line(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "amy.py").write_text(CORRECT)
    result = batch(subs, "--out", tmp_path / "out", "--exercises", "softmax", "--no-progress",
                   "--cluster", "tcp://127.0.0.1:9", "--cluster-timeout", "2")  # fmt: skip
    assert result.exit_code == 2
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
