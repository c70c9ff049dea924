"""A warm grading slot: one process per core that grades submissions one after another.

The slot imports torch, pytest and the grader once and starts its own zygote (the
process that forks student workers). For each submission it forks a fresh *trusted*
child that unpacks the submission, runs one pytest session (:func:`grader.runner.grade`)
and writes its result to a pipe, then leaves with ``os._exit``: no state (imported check
modules, pytest's caches, reference objects) survives from one student to the next, and
no import is paid again. A child that outlives the submission's time limit is killed
with everything it started, and the student gets an "error" result saying so.

The slot runs no submitted code itself. It talks JSON lines: a job per line on stdin, a
message per line on stdout (``{"ready": ...}`` once, then ``{"result": ...}`` per job).

    python -m grader.batch.slot        # what SlotProcess starts; the batch does this for you

:class:`SlotProcess` is the other end, used by the local pool and by Dask workers.
"""

from __future__ import annotations

import gc
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

# Seconds a slot may take past a job's own time limit before its parent gives up on it.
GRACE = 60.0


# ---------------------------------------------------------------------- the slot process


class Slot:
    def __init__(self) -> None:
        # The zygote imports torch in its own process while we import ours.
        self._start_zygote()
        self._warm()
        self.zygote.wait_ready()
        self.scratch = Path(tempfile.mkdtemp(prefix="grader-slot-"))
        self.fingerprints: dict[str, str] = {}
        self._pending: tuple[int, Path] | None = None
        # Everything imported so far lives as long as the slot: keep the garbage collector
        # of each forked child from walking (and so copying) those pages.
        gc.collect()
        gc.freeze()

    def _warm(self) -> None:
        """Import now what every submission's pytest session would import again."""
        import importlib

        import _pytest.config
        import pytest  # noqa: F401
        import torch

        torch.set_num_threads(1)  # each slot is one core; verdicts are small tensor maths
        for name in _pytest.config.default_plugins:
            try:
                importlib.import_module(f"_pytest.{name}")
            except ImportError:
                pass
        import grader.api  # noqa: F401
        import grader.batch.job  # noqa: F401
        import grader.batch.unpack  # noqa: F401
        import grader.compare  # noqa: F401
        import grader.plugin  # noqa: F401
        import grader.runner  # noqa: F401
        from grader.registry import load_registry

        try:
            import nbformat  # noqa: F401

            import grader.notebooks  # noqa: F401  (and nbformat: notebooks are common)
        except ImportError:
            pass

        self.registry = load_registry()  # imports the exercise packages once

    def _start_zygote(self) -> None:
        import grader.zygote

        # torch._dynamo is what the first torch.optim optimizer imports (~2.5 s in every
        # fresh worker otherwise; train_head in ner_head builds one). A slot lives for
        # many submissions, so it pays that once.
        self.zygote = grader.zygote.Zygote(preload=("torch._dynamo",))
        # Code that asks for the process-wide zygote (default_zygote) gets ours.
        grader.zygote._default = self.zygote

    def restart_zygote(self) -> None:
        try:
            self.zygote.close()
        except Exception:
            pass
        self._start_zygote()
        self.zygote.wait_ready()

    def fingerprint(self, options: dict) -> str:
        from grader.batch.job import JobOptions, fingerprint

        key = json.dumps(options, sort_keys=True)
        if key not in self.fingerprints:
            try:
                self.fingerprints[key] = fingerprint(JobOptions.from_json(options), self.registry)
            except Exception as exc:  # unknown exercise on this machine
                self.fingerprints[key] = f"unavailable: {exc}"
        return self.fingerprints[key]

    def run(self, job: dict) -> dict:
        result = self.grade(job)
        self.cleanup()
        return result

    def grade(self, job: dict) -> dict:
        """Grade ``job`` in a fresh child; call :meth:`cleanup` once the result is passed on."""
        from grader.batch.job import error_result

        start = time.monotonic()
        mine = self.fingerprint(job["options"])
        if job.get("fingerprint") and mine != job["fingerprint"]:
            return error_result(
                job,
                "this machine's course kit (checks, solutions or grader options) differs from the batch's: "
                "install the same version on every worker",
                retry=True,
            )
        limit = float(job["options"].get("timeout", 300.0))
        scratch = Path(tempfile.mkdtemp(prefix="job-", dir=self.scratch))
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the trusted child: grade, report, leave without running atexit
            os.close(read_fd)
            _child(job, self, scratch, write_fd)
        os.close(write_fd)
        data, finished = _read_until(read_fd, start + limit)
        os.close(read_fd)
        elapsed = time.monotonic() - start
        self._pending = (pid, scratch)
        result = None
        if finished:
            try:
                result = json.loads(data)
            except ValueError:
                result = None
        if result is not None:
            # The child closed its end when it was done: it may still be tearing down its
            # memory, which cleanup() waits for after the result has gone out.
            result.setdefault("timing", {})["slot"] = round(elapsed, 4)
            return result
        if not finished:
            _kill(pid)
        # Stopped or dead mid-conversation with the zygote: start a clean one, so no
        # stale reply or runaway worker reaches the next student.
        status = self.cleanup(restart_zygote=True)
        if not finished:
            return error_result(
                job,
                f"grading was stopped after {limit:g} s, the time limit for one submission "
                "(an endless loop, or very slow code?)",
                seconds=elapsed,
            )
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"code {os.WEXITSTATUS(status)}"
        return error_result(job, f"the grader's process for this submission died ({how})", retry=True, seconds=elapsed)

    def cleanup(self, restart_zygote: bool = False) -> int:
        """Reap the last child, remove its scratch folder, restart a zygote a submission killed."""
        if self._pending is None:
            return 0
        pid, scratch = self._pending
        self._pending = None
        _, status = os.waitpid(pid, 0)
        shutil.rmtree(scratch, ignore_errors=True)
        if restart_zygote or not self.zygote.alive():
            self.restart_zygote()
        return status


def _child(job: dict, slot: Slot, scratch: Path, write_fd: int) -> None:
    from grader.batch.job import error_result, grade_job
    from grader.sandbox import die_with_parent

    code = 0
    try:
        die_with_parent()
        # This process lives for one submission: collect cycles rarely (the slot's own
        # objects are frozen, see Slot.__init__).
        gc.set_threshold(100_000, 50, 1000)
        # Temporary files of this grading run (worker logs, converted notebooks) land in
        # the job's scratch folder, which the slot removes whatever happens.
        tempfile.tempdir = str(scratch)
        try:
            result = grade_job(job, slot.zygote, scratch, slot.registry, hide_dirs=job.get("hide", []))
        except BaseException as exc:  # noqa: BLE001 - the grader itself failed: say so
            result = error_result(job, f"the grader itself failed: {type(exc).__name__}: {exc}", retry=True)
        payload = json.dumps(result).encode()
        view = memoryview(payload)
        while view:
            n = os.write(write_fd, view)
            view = view[n:]
        os.close(write_fd)  # the slot has the result now, before this process is torn down
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Read the child's whole result, or stop at the deadline. (data, finished)."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"", False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def main() -> None:
    from grader.sandbox import die_with_parent

    die_with_parent()
    # Our messages go to a private copy of stdout; anything else printed goes to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    slot = Slot()
    channel.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        channel.write(json.dumps({"result": slot.grade(job)}) + "\n")
        slot.cleanup()
    try:
        slot.zygote.close()
    finally:
        shutil.rmtree(slot.scratch, ignore_errors=True)


# ---------------------------------------------------------------------- the client


class SlotDied(RuntimeError):
    """The slot process ended (or stopped answering) while a job was out."""


class SlotProcess:
    """Starts ``python -m grader.batch.slot`` and exchanges JSON lines with it."""

    def __init__(self, log_path: Path | str | None = None):
        self.log_path = Path(log_path) if log_path else None
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grader.batch.slot"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=tempfile.gettempdir(),
                env=env,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        self._buffer = b""
        self.jobs: deque[dict] = deque()  # sent and not answered yet, in order
        self.started_at = 0.0  # when the slot began on jobs[0] (as far as we can tell)
        self.ready = False

    @property
    def job(self) -> dict | None:
        """The job the slot is working on now, if any."""
        return self.jobs[0] if self.jobs else None

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, job: dict) -> None:
        if not self.jobs:
            self.started_at = time.monotonic()
        self.jobs.append(job)
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise SlotDied(self.describe_exit()) from None

    def read_messages(self) -> list[dict]:
        """Messages available now (call when fileno() is readable). Raises SlotDied at EOF."""
        chunk = os.read(self.fileno(), 1 << 20)
        if not chunk:
            raise SlotDied(self.describe_exit())
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        out = []
        for line in lines:
            if line.strip():
                msg = json.loads(line)
                if msg.get("ready"):
                    self.ready = True
                if "result" in msg and self.jobs:
                    self.jobs.popleft()
                    self.started_at = time.monotonic()
                out.append(msg)
        return out

    def run(self, job: dict, timeout: float | None = None) -> dict:
        """Send one job and wait for its result (the Dask path)."""
        self.send(job)
        limit = float(job["options"].get("timeout", 300.0)) + GRACE if timeout is None else timeout
        deadline = time.monotonic() + limit + 180.0  # start-up of a fresh slot included
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise SlotDied("the grading slot stopped answering")
            ready, _, _ = select.select([self.fileno()], [], [], left)
            if not ready:
                continue
            for msg in self.read_messages():
                if "result" in msg:
                    return msg["result"]

    def describe_exit(self) -> str:
        code = self.proc.poll()
        if code is None:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                return "the grading slot stopped answering"
        tail = ""
        if self.log_path and self.log_path.exists():
            text = self.log_path.read_bytes()[-400:].decode(errors="replace").strip().splitlines()
            tail = f": {text[-1]}" if text else ""
        how = f"signal {-code}" if code < 0 else f"code {code}"
        return f"the grading slot exited ({how}){tail}"

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


if __name__ == "__main__":
    main()
