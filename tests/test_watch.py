"""``grade exercise NAME --watch``: a result at start, another after each save, until stopped.

The command runs in a subprocess on a file of its own; saves are real writes. No timing is
asserted (benchmarks/watch_benchmark.py measures the latency); the waits are only there
so that a broken watch fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS
from grader.watch import _filter, watched_paths

SOLUTION = ROOT / "solutions" / "softmax.py"
WAIT = 300  # seconds; the first result imports torch


class Watch:
    def __init__(self, *args: str, cwd: Path):
        grade = Path(sys.executable).with_name("grade")
        self.proc = subprocess.Popen(
            [str(grade), "exercise", "softmax", *args, "--watch", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, bufsize=1,
        )  # fmt: skip
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.err = ""

    def wait_stderr(self, text: str) -> None:
        """Read stderr until it holds ``text`` (a line the watch prints between results)."""
        deadline = time.monotonic() + WAIT
        fd = self.proc.stderr.fileno()
        while text not in self.err:
            ready = selectors.DefaultSelector()
            ready.register(fd, selectors.EVENT_READ)
            if time.monotonic() > deadline or not ready.select(max(0.0, deadline - time.monotonic())):
                pytest.fail(f"stderr never said {text!r}: {self.err[-2000:]}")
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"grade --watch ended: {self.err[-2000:]}")
            self.err += chunk.decode(errors="replace")

    def next_result(self) -> dict:
        if not self.selector.select(WAIT):
            pytest.fail(f"no result within {WAIT} s")
        line = self.proc.stdout.readline()
        if not line:
            pytest.fail(f"grade --watch ended (exit {self.proc.wait()}): {self.proc.stderr.read()[-2000:]}")
        return json.loads(line)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail("grade --watch did not stop on Ctrl-C")
        return self.proc.returncode, self.err + err


def save(path: Path, text: str) -> None:
    """Write as an editor does: a new file renamed over the old one."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text)
    tmp.replace(path)


def test_watch_regrades_each_save_until_stopped(tmp_path):
    target = tmp_path / "softmax.py"
    shutil.copyfile(SOLUTION, target)
    (tmp_path / "notes.txt").write_text("not graded")
    watch = Watch("--submission", str(target), cwd=tmp_path)
    try:
        first = watch.next_result()
        assert first["exercise"] == "softmax" and first["score"] == first["max_score"] > 0
        time.sleep(0.5)  # let the watcher settle before the first save
        save(target, (SUBMISSIONS / "softmax" / "no_max.py").read_text())
        second = watch.next_result()
        assert 0 < second["score"] < second["max_score"]  # the saved content was graded
        (tmp_path / "notes.txt").write_text("still not graded")  # a file that is not graded: no run
        # A file that is gone is a usage error: said in one line (stderr), and the watch goes on.
        target.unlink()
        watch.wait_stderr(f"Error: submission not found: {target}")
        target.write_text(SOLUTION.read_text())  # saved in place this time
        third = watch.next_result()
        while third["score"] != third["max_score"]:  # an earlier event may be graded on its own
            third = watch.next_result()
    finally:
        code, err = watch.stop()
    assert code == 0, err[-2000:]  # the last result passed
    assert "Traceback" not in err
    assert f"Error: submission not found: {target}" in err


def test_watch_refuses_a_usage_error_at_start(tmp_path):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("grade")), "exercise", "nope", "--watch"],
        capture_output=True, text=True, cwd=tmp_path, timeout=WAIT,
    )  # fmt: skip
    assert proc.returncode == 2 and "no exercise named 'nope'" in proc.stderr


def test_watched_paths(tmp_path):
    # A file: its folder is watched (editors replace the file), only that file counts.
    target = tmp_path / "softmax.py"
    folders, files, trees = watched_paths(target, [])
    assert folders == [tmp_path] and files == {target} and trees == []
    wanted = _filter(files, trees)
    assert wanted(None, str(target)) and not wanted(None, str(tmp_path / "other.py"))
    # A folder: every .py and .ipynb under it.
    folders, files, trees = watched_paths(tmp_path, [])
    wanted = _filter(files, trees)
    assert wanted(None, str(tmp_path / "sub" / "attention.py")) and wanted(None, str(tmp_path / "a.ipynb"))
    assert not wanted(None, str(tmp_path / "notes.txt"))
    # No submission: the student's files in exercises/ (the graded one and those it imports).
    stubs = [ROOT / "exercises" / "decoder_block" / "decoder_block.py", ROOT / "exercises" / "attention" / "attention.py"]
    folders, files, trees = watched_paths(None, stubs)
    assert set(folders) == {p.parent for p in stubs} and files == set(stubs)
    wanted = _filter(files, trees)
    assert not wanted(None, str(ROOT / "exercises" / "attention" / "test_attention.py"))
