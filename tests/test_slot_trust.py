"""The batch believes a slot only for the job it gave it; a slot that lies, dies or hangs is replaced.

Fake slots (a few lines of Python speaking the slot's JSON lines, no torch) play honest
and hostile slots, so the local pool's whole loop runs in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.batch import engine
from grader.batch.engine import LocalPool
from grader.batch.journal import reusable
from grader.batch.slot import SlotProcess, SlotUntrusted, _child_result, _stopped

# A slot that answers each job as its id asks: "ok..." honestly; "forge..." with a wrong
# token; "other..." naming another job; "garbage..." with a line that is not JSON;
# "stop..." by SIGSTOPping itself; "die..." by exiting. "<how>-once" misbehaves only on
# the first try (a marker file in FAKE_SLOT_DIR remembers it).
FAKE_SLOT = textwrap.dedent(
    """
    import json, os, signal, sys
    marks = os.environ["FAKE_SLOT_DIR"]
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        env = json.loads(line)
        job, token = env["job"], env["token"]
        jid = job["id"]
        how = jid.split("-")[0]
        if jid.endswith("-once"):
            mark = os.path.join(marks, jid)
            if os.path.exists(mark):
                how = "ok"
            open(mark, "a").close()
        result = {"id": jid, "status": "graded", "retry": False, "error": "", "exercises": []}
        msg = {"result": result, "job": jid, "token": token}
        if how == "forge":
            msg["token"] = "0" * 32
        elif how == "other":
            msg = {"result": dict(result, id="victim"), "job": "victim", "token": token}
        elif how == "garbage":
            print("{not json", flush=True)
            continue
        elif how == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif how == "die":
            os._exit(3)
        elif how == "retry":
            msg["result"] = dict(result, status="error", retry=True, error="the grader's process died (signal 9)")
        print(json.dumps(msg), flush=True)
    """
)


class FakeSlot(SlotProcess):
    command = (sys.executable, "-c", FAKE_SLOT)

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "FAKE_SLOT_DIR": os.environ["FAKE_SLOT_DIR"]}


class FakePool(LocalPool):
    def __init__(self, workers: int, log_dir: Path):
        super().__init__(workers, log_dir)
        self.started = 0

    def _start_slot(self, index: int) -> SlotProcess:
        self.started += 1
        return FakeSlot(self.log_dir / f"slot-{index}.log")


def _job(jid: str, timeout: float = 5.0) -> dict:
    return {"id": jid, "options": {"timeout": timeout}}


def _grade(tmp_path, monkeypatch, ids: list[str], workers: int = 2, timeout: float = 5.0):
    monkeypatch.setenv("FAKE_SLOT_DIR", str(tmp_path))
    results: dict[str, dict] = {}
    pool = FakePool(workers, tmp_path / "logs")
    start = time.monotonic()
    pool.run([_job(j, timeout) for j in ids], lambda r: results.__setitem__(r["id"], r))
    return results, pool, time.monotonic() - start


# --------------------------------------------------------------------------- slot messages


def test_a_forged_result_line_is_rejected_and_the_job_retried_on_a_fresh_slot(tmp_path, monkeypatch):
    results, pool, _ = _grade(tmp_path, monkeypatch, ["ok-a", "forge-once", "ok-b"])
    assert set(results) == {"ok-a", "forge-once", "ok-b"}
    assert results["forge-once"]["status"] == "graded"  # the second try, on a new slot
    assert pool.started == 3  # two slots, plus one for the one that lied


@pytest.mark.parametrize("how", ["forge", "other", "garbage", "die"])
def test_a_slot_that_lies_twice_gets_an_error_of_the_graders_not_a_grade(tmp_path, monkeypatch, how):
    results, pool, _ = _grade(tmp_path, monkeypatch, ["ok-a", f"{how}-x", "ok-b"])
    assert set(results) == {"ok-a", f"{how}-x", "ok-b"}  # nobody vanished, no forged "victim"
    bad = results[f"{how}-x"]
    assert bad["status"] == "error" and bad["retry"] is True
    assert "not of the submission's code" in bad["error"] and "on 2 tries" in bad["error"]
    assert results["ok-a"]["status"] == results["ok-b"]["status"] == "graded"


def test_a_result_the_grader_marked_for_retry_is_graded_once_more(tmp_path, monkeypatch):
    results, _, _ = _grade(tmp_path, monkeypatch, ["retry-once", "ok-a"])
    assert results["retry-once"]["status"] == "graded"


def test_read_messages_kills_the_slot_on_a_forged_line_and_keeps_what_came_before(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SLOT_DIR", str(tmp_path))
    slot = FakeSlot()
    try:
        slot.send(_job("ok-a"))
        slot.send(_job("forge-b"))
        got: list[dict] = []
        with pytest.raises(SlotUntrusted, match="without that job's token") as bad:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                got += slot.read_messages()
        accepted = got + bad.value.accepted
        assert [m["result"]["id"] for m in accepted if "result" in m] == ["ok-a"]
        assert [j["id"] for j in slot.jobs] == ["forge-b"]
        assert slot.proc.wait(timeout=5) is not None
    finally:
        slot.kill()


# --------------------------------------------------------------------------- the watchdog


def test_a_sigstopped_slot_is_replaced_and_its_job_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "GRACE", 0.5)
    results, pool, took = _grade(tmp_path, monkeypatch, ["stop-once", "ok-a"], timeout=0.5)
    assert results["stop-once"]["status"] == "graded"
    assert pool.started == 3
    assert took < 10


def test_a_slot_stopped_on_both_tries_is_the_graders_error(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "GRACE", 0.5)
    results, _, _ = _grade(tmp_path, monkeypatch, ["stop-x", "ok-a"], timeout=0.5)
    assert results["stop-x"]["retry"] is True and "stopped answering" in results["stop-x"]["error"]
    assert results["ok-a"]["status"] == "graded"


# --------------------------------------------------------------------------- inside a slot


def test_the_childs_result_counts_only_with_its_token_and_for_its_job():
    job, token = {"id": "alice"}, "a" * 32
    result = {"id": "alice", "status": "graded"}
    good = json.dumps({"token": token, "result": result}).encode()
    assert _child_result(good, job, token) == result
    assert _child_result(json.dumps({"token": "b" * 32, "result": result}).encode(), job, token) is None
    assert _child_result(json.dumps({"token": token, "result": dict(result, id="bob")}).encode(), job, token) is None
    assert _child_result(good + b'{"token": "x"}', job, token) is None  # a line written after it
    assert _child_result(b"garbage", job, token) is None
    assert _child_result(json.dumps([token]).encode(), job, token) is None


def test_a_stopped_process_is_told_from_a_slow_one():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        assert not _stopped(proc.pid)
        os.kill(proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not _stopped(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _stopped(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_each_job_gets_its_own_token_outside_the_job_itself():
    # The slot grades the job inside the envelope: grade_job and every WorkerConfig are
    # built from it, so the token must not be in it.
    class Recorder(SlotProcess):
        command = (sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.readline())")

    slot = Recorder()
    try:
        job = _job("alice")
        slot.send(job)
        slot.send(_job("bob"))
        echoed = json.loads(slot.proc.stdout.readline())
        assert echoed["job"] == job and "token" not in job
        assert echoed["token"] == slot._tokens[0] != slot._tokens[1]
        assert len(slot._tokens[0]) == 32
    finally:
        slot.kill()


# --------------------------------------------------------------------------- --resume


def test_resume_regrades_every_failure_of_the_graders():
    checks = [{"name": "t", "points": 1, "max_points": 1, "status": "passed"}]
    line = {"id": "a", "digest": "d", "fingerprint": "f", "retry": False, "exercises": [{"exercise": "softmax", "checks": checks}]}
    assert reusable(line, "d", "f")
    assert not reusable(dict(line, retry=True, status="error"), "d", "f")
    errored = [dict(checks[0], status="error", points=0)]
    assert not reusable(dict(line, exercises=[{"exercise": "softmax", "checks": errored}]), "d", "f")
    assert not reusable(dict(line, exercises="garbled"), "d", "f")


# --------------------------------------------------------------------------- shared replies


class RecordingPool(LocalPool):
    """Fake slots that note where they were told to share reference replies."""

    def _start_slot(self, index: int) -> SlotProcess:
        note = "import json, os, sys; open(os.path.join(os.environ['FAKE_SLOT_DIR'], f'argv-{os.getpid()}'), 'w').write(json.dumps(sys.argv))\n"
        slot = type("ArgvSlot", (FakeSlot,), {"command": (sys.executable, "-c", note + FAKE_SLOT)})
        return slot(self.log_dir / f"slot-{index}.log", self.reference_cache)


def test_the_slots_of_a_pool_share_one_reply_folder_which_goes_with_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SLOT_DIR", str(tmp_path))
    pool = RecordingPool(2, tmp_path / "logs")
    seen: list[bool] = []
    modes: list[int] = []

    def on_result(result):
        seen.append(pool.reference_cache.is_dir())
        modes.append(pool.reference_cache.stat().st_mode & 0o777)

    pool.run([_job("ok-a"), _job("ok-b"), _job("ok-c")], on_result)
    argvs = [json.loads(p.read_text()) for p in tmp_path.glob("argv-*")]
    assert len(argvs) == 2
    folders = {tuple(a[1:]) for a in argvs}
    assert len(folders) == 1, folders
    (flag, folder), = folders
    assert flag == "--reference-cache"
    assert seen == [True, True, True]  # there while the slots graded
    assert set(modes) == {0o700}  # and no one else's to read or plant replies in
    assert not Path(folder).exists()  # and gone with the run
