"""The Gradescope autograder against hostile submission folders and metadata, in-process
(no bundle built): trees nested too deep or holding too many files, links, FIFOs and
device files, names with newlines, and submission_metadata.json of every wrong shape.
Each ends in a results.json in Gradescope's format with a one-line reason the student
can act on, never "the autograder failed". The same deep trees reach ``grade batch`` as
folders and zips: there they are one student's problem, not the end of the batch."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from grader.release import gradescope_autograder as autograder
from test_gradescope_bundle import _fake_root, assert_gradescope_format


def _run(root: Path, monkeypatch) -> dict:
    monkeypatch.setenv("GRADESCOPE_ROOT", str(root))
    assert autograder.main() == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(doc)
    return doc


@pytest.fixture
def nest():
    """Makes a tree ``depth`` folders deep; removes it after, bottom up (shutil.rmtree
    recurses per level too, and pytest's clean-up would fail on it)."""
    made: list[tuple[Path, int]] = []

    def make(top: Path, depth: int) -> None:
        # Relative steps: the whole path may be longer than the system's PATH_MAX.
        here = os.getcwd()
        os.chdir(top)
        try:
            for _ in range(depth):
                os.mkdir("d")
                os.chdir("d")
            Path("softmax.py").write_text("def softmax(x, dim=-1):\n    return x\n")
        finally:
            os.chdir(here)
        made.append((top, depth))

    yield make
    here = os.getcwd()
    for top, depth in made:
        os.chdir(top)
        for _ in range(depth):
            os.chdir("d")
        for name in os.listdir("."):
            os.unlink(name)
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("d")
    os.chdir(here)


def test_a_tree_nested_1200_deep_is_refused_in_one_line(tmp_path, monkeypatch, nest):
    root = _fake_root(tmp_path)
    nest(root / "submission", 1200)
    doc = _run(root, monkeypatch)
    assert doc["score"] == 0 and "nested more than" in doc["output"]
    assert "autograder failed" not in doc["output"] and len(doc["output"].splitlines()) == 1


def test_ten_thousand_files_are_refused_in_one_line(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    for n in range(10_000):
        (root / "submission" / f"f{n}.txt").touch()
    doc = _run(root, monkeypatch)
    assert doc["score"] == 0 and "more than 2000 files" in doc["output"]


def test_links_fifos_and_devices_are_not_taken_for_the_module(tmp_path, monkeypatch):
    from grader.batch.unpack import materialize

    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1\n")
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "softmax.py").symlink_to(secret)
    os.mkfifo(sub / "softmax.ipynb")  # reading it would block the autograder for ever
    (sub / "attention.py").symlink_to(sub / "attention.py")  # a loop
    (sub / "dir-link").symlink_to(tmp_path)
    (sub / "name\nwith newline.py").write_text("x = 1\n")
    if os.geteuid() == 0:
        os.mknod(sub / "zero.py", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless bytes
    copied = materialize({"kind": "dir", "paths": [str(sub)]}, tmp_path / "copy")
    names = sorted(p.name for p in copied.rglob("*"))
    assert names == ["name\nwith newline.py"]
    assert all(p.is_file() and not p.is_symlink() for p in copied.rglob("*"))


@pytest.mark.parametrize("content", [
    json.dumps({"users": [{"name": ["a"] * 100_000, "sid": 10**4000}]}),  # a list as the name; 4,000 digits
    json.dumps({"users": [{"name": "x"}] * 100_000}),  # a hundred thousand users
    json.dumps({"users": [[[[[[["deep"]]]]]]]}),
    '{"users": [{"name": NaN, "sid": Infinity}]}',
    json.dumps({"users": [{"name": "a", "sid": "1"}]}) + " " * (2 * 1024 * 1024),  # over the size read
    "\xff\xfe not utf-8",
    json.dumps({"users": [{"name": 1e308, "email": "=cmd|calc!A0"}]}),
])  # fmt: skip
def test_metadata_of_any_shape_gives_at_most_one_short_line(tmp_path, content):
    (tmp_path / "submission_metadata.json").write_text(content, encoding="utf-8", errors="surrogateescape")
    line = autograder.student_line(tmp_path)
    assert "\n" not in line and len(line) < 5 * 90 + 40


def test_metadata_that_is_a_folder_is_ignored(tmp_path):
    (tmp_path / "submission_metadata.json").mkdir()
    assert autograder.student_line(tmp_path) == ""


def test_a_batch_with_one_folder_nested_1200_deep_goes_on_for_the_others(tmp_path, nest):
    # os.walk recurses per level: discover() raised RecursionError and the batch ended.
    from grader.batch.discover import discover

    subs = tmp_path / "subs"
    (subs / "deep").mkdir(parents=True)
    nest(subs / "deep", 1200)
    (subs / "fine").mkdir()
    (subs / "fine" / "softmax.py").write_text("x = 1\n")
    entries = {e.id: e for e in discover(subs).entries}
    assert entries["deep"].kind == "invalid" and "nested more than" in entries["deep"].problem
    assert entries["fine"].kind == "dir"


def test_a_zip_nested_1500_deep_is_the_students_unpack_error(tmp_path):
    # Path.mkdir(parents=True) recursed per level: a RecursionError, not a one-line reason.
    import zipfile

    from grader.batch.unpack import UnpackError, materialize

    archive = tmp_path / "deep.zip"
    with zipfile.ZipFile(archive, "w") as f:
        f.writestr("d/" * 1500 + "softmax.py", "x = 1\n")
    with pytest.raises(UnpackError, match="nested more than"):
        materialize({"kind": "zip", "paths": [str(archive)], "names": ["deep.zip"]}, tmp_path / "out")


DAEMON = '''
import ctypes, json, os, time

ROOT = {root!r}


def _leave_a_daemon():
    if os.fork():
        return
    try:
        try:
            os.setsid()
        except OSError:
            pass
        if os.fork():
            os._exit(0)
        ctypes.CDLL(None).prctl(15, b"gs-hostile-dmn", 0, 0, 0)  # PR_SET_NAME: findable in /proc
        for _ in range(100):  # ten seconds of trying to forge the result after grading
            for path in (ROOT + "/results/results.json", ROOT + "/daemon-was-here"):
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w") as f:
                        json.dump({{"score": 1000, "tests": []}}, f)
                except OSError:
                    pass
            time.sleep(0.1)
    finally:
        os._exit(0)


_leave_a_daemon()

import torch


def softmax(x, dim=-1):
    e = torch.exp(x - x.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)
'''


def test_a_daemon_left_by_the_submission_neither_survives_nor_forges(tmp_path, monkeypatch):
    import time

    from grader.jail import probe

    refused = probe()
    if refused is not None:
        pytest.skip(f"this machine refuses the jail: {refused}")
    root = _fake_root(tmp_path)
    (root / "submission" / "softmax.py").write_text(DAEMON.format(root=str(root)))
    doc = _run(root, monkeypatch)
    assert doc["score"] == sum(t["max_score"] for t in doc["tests"]) > 0  # graded as the correct code it is
    time.sleep(2)  # the daemon would have written by now
    assert json.loads((root / "results" / "results.json").read_text()) == doc
    assert not (root / "daemon-was-here").exists()
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            alive += [pid] if Path(f"/proc/{pid}/comm").read_text().strip() == "gs-hostile-dmn" else []
        except OSError:
            pass  # ended while we looked
    assert alive == []
