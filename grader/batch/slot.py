"""A warm grading slot: one process per core that grades submissions one after another.

The slot imports torch, pytest and the grader once and starts its own zygote (the
process that forks student workers). For each submission it forks a fresh *trusted*
child that unpacks the submission, runs one pytest session (:func:`grader.runner.grade`)
and writes its result to a pipe, then leaves with ``os._exit``: no state (imported check
modules, pytest's caches, reference objects) survives from one student to the next, and
no import is paid again. A child that outlives the submission's time limit is killed
with everything it started, and the student gets an "error" result saying so.

The slot runs no submitted code itself. It talks JSON lines: a job per line on stdin
(``{"job": {...}, "token": "<hex>"}``), a message per line on stdout (``{"ready": ...}``
once, then ``{"result": {...}, "job": id, "token": "<hex>"}`` per job).

The token is a secret drawn per job by the batch (:class:`SlotProcess`). The slot keeps
it out of the job it grades, and so out of every worker's config; the zygote that forks
student workers was started before any token existed. The per-submission child, a fork
of the slot, returns it with its result; the slot passes a result on only with its job's
token, and the batch accepts one only for the job it sent, with that job's token. A
line written into either pipe by anyone else (through /proc, say) cannot carry it.

    python -m grader.batch.slot        # what SlotProcess starts; the batch does this for you

:class:`SlotProcess` is the other end, used by the local pool and by Dask workers.
"""

from __future__ import annotations

import gc
import json
import hmac
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from pathlib import Path

from grader.batch.job import SUBMISSION_SECONDS
from grader.hugepages import collapse

# Seconds a slot may take past a job's own time limit before its parent gives up on it.
GRACE = 60.0


# ---------------------------------------------------------------------- the slot process


class Slot:
    def __init__(self, fork_zygote: bool = False, reference_cache: Path | None = None) -> None:
        """``fork_zygote``: fork the zygote from this process once torch is imported (one
        torch import per slot, not two); only where our environment is already the workers'
        (the slot process SlotProcess starts). Otherwise the zygote imports torch in a fresh
        interpreter while we import ours.

        ``reference_cache``: a folder of reference replies shared with other slots (the
        local pool's, one per batch); by default one of our own."""
        self._start_zygote(fork_zygote)
        self._warm()
        self.zygote.wait_ready()
        self.scratch = Path(tempfile.mkdtemp(prefix="grader-slot-"))
        # Reference replies shared by this slot's jobs (grader.refcache); jobs of another
        # seed or other checks never meet a reply of these: their keys differ.
        self.reference_cache = reference_cache or self.scratch / "reference-replies"
        self.fingerprints: dict[str, str] = {}
        self._pending: tuple[int, Path] | None = None
        self._graded = 0  # submissions so far (the reply cache's size is checked every few)
        self._preloaded: set[str] = set()  # ExerciseSpec.check_preloads called so far
        from grader.runner import pytest_args
        from grader.session import PreparedSessions

        # The pytest sessions of the jobs' check files, configured and collected once
        # here (when the first job that needs one arrives); each job's child runs one.
        self.sessions = PreparedSessions(pytest_args)
        # Everything imported so far lives as long as the slot: keep the garbage collector
        # of each forked child from walking (and so copying) those pages.
        gc.collect()
        gc.freeze()
        collapse()  # and make the fork per submission cheaper (grader.hugepages)

    def _warm(self) -> None:
        """Import now what every submission's pytest session would import again."""
        import importlib

        import _pytest.config
        import pytest  # noqa: F401
        import torch

        torch.set_num_threads(1)  # each slot is one core; verdicts are small tensor maths
        from grader.runner import UNUSED_PLUGINS

        for name in _pytest.config.default_plugins:
            if name in UNUSED_PLUGINS:
                continue  # (junitxml alone would import xml.etree: 0.3 s)
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
        for spec in self.registry.ordered():
            for path in spec.all_checks(include_hidden=True):
                _import_check_file(path)

    def _start_zygote(self, fork: bool = False) -> None:
        import grader.zygote

        # What the exercises' workers import besides torch (ExerciseSpec.worker_imports) is
        # imported when the first job that needs it arrives (_prepare_for), so a batch
        # pays only for what its exercises use.
        self.zygote = grader.zygote.Zygote(fork=fork)
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

    def grade(self, job: dict, token: str = "") -> dict:
        """Grade ``job`` in a fresh child; call :meth:`cleanup` once the result is passed on.

        ``token`` is the job's secret: the child returns it with its result, and output
        without it (or for another student) is not taken for a result.
        """
        from grader.batch.job import error_result

        self._prepare_for(job["options"])  # once per slot, not on the student's clock
        start = time.monotonic()
        mine = self.fingerprint(job["options"])
        if job.get("fingerprint") and mine != job["fingerprint"]:
            return error_result(
                job,
                "this machine's course kit (checks, solutions or grader options) differs from the batch's: "
                "install the same version on every worker",
                retry=True,
            )
        limit = float(job["options"].get("timeout", SUBMISSION_SECONDS))
        scratch = Path(tempfile.mkdtemp(prefix="job-", dir=self.scratch))
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the trusted child: grade, report, leave without running atexit
            os.close(read_fd)
            _child(job, token, self, scratch, write_fd)
        os.close(write_fd)
        data, finished = _read_until(read_fd, start + limit)
        os.close(read_fd)
        elapsed = time.monotonic() - start
        self._pending = (pid, scratch)
        result = _child_result(data, job, token) if finished else None
        if result is not None:
            # The child closed its end when it was done: it may still be tearing down its
            # memory, which cleanup() waits for after the result has gone out.
            result.setdefault("timing", {})["slot"] = round(elapsed, 4)
            return result
        stopped = not finished and _stopped(pid)
        if not finished:
            _kill(pid)
        # Stopped or dead mid-conversation with the zygote: start a clean one, so no
        # stale reply or runaway worker reaches the next student.
        status = self.cleanup(restart_zygote=True)
        if stopped:
            # SIGSTOP from outside: not the submission's slowness as far as we can tell.
            return error_result(
                job, "the grader's process for this submission was stopped by a signal", retry=True, seconds=elapsed
            )
        if not finished:
            return error_result(
                job,
                f"grading was stopped after {limit:g} s, the time limit for one submission "
                "(an endless loop, or very slow code?)",
                seconds=elapsed,
            )
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return error_result(
                job, "the grader's process for this submission sent a result that was not its own", retry=True, seconds=elapsed
            )
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"code {os.WEXITSTATUS(status)}"
        return error_result(job, f"the grader's process for this submission died ({how})", retry=True, seconds=elapsed)

    def _prepare_for(self, options: dict) -> None:
        """Have the zygote import what the job's exercises' workers will import, and load here
        the data their checks share (ExerciseSpec.check_preloads), once per slot."""
        try:
            specs = self.registry.select(options.get("exercises"))
        except LookupError:
            return  # an exercise this machine lacks: the job's own result says so
        try:
            self.zygote.import_modules(sorted({name for spec in specs for name in spec.worker_imports}))
        except Exception:  # noqa: BLE001 - the workers import them themselves, slower
            traceback.print_exc(file=sys.stderr)
        fresh = [target for spec in specs for target in spec.check_preloads if target not in self._preloaded]
        for target in fresh:
            self._preloaded.add(target)
            _call_preload(target)
        known_sessions = len(self.sessions)
        try:
            from grader.batch.job import JobOptions, grade_options_for
            from grader.runner import check_files

            files, without_hidden = check_files(specs, grade_options_for(JobOptions.from_json(options)))
            self.sessions.get(files, without_hidden)
        except Exception:  # noqa: BLE001 - the job's child runs pytest.main, which says what is wrong
            traceback.print_exc(file=sys.stderr)
        if fresh or len(self.sessions) > known_sessions:
            gc.freeze()  # what was loaded lives as long as the slot, like our imports
            collapse()

    def cleanup(self, restart_zygote: bool = False) -> int:
        """Reap the last child, remove its scratch folder, restart a zygote a submission killed."""
        if self._pending is None:
            return 0
        pid, scratch = self._pending
        self._pending = None
        _, status = os.waitpid(pid, 0)
        if not restart_zygote and self.zygote.alive():
            try:
                self.zygote.end_all()  # none of this submission's workers grades along with the next one
            except Exception:  # noqa: BLE001 - a zygote that cannot answer is restarted below
                restart_zygote = True
        shutil.rmtree(scratch, ignore_errors=True)
        self._graded += 1
        if self._graded % 16 == 0:
            from grader.refcache import prune

            prune(self.reference_cache)
        if restart_zygote or not self.zygote.alive():
            self.restart_zygote()
        return status


def _call_preload(target: str) -> None:
    """Call an ExerciseSpec.check_preloads entry ("module:function"). One that fails is left
    to the checks, which call it again and report what is wrong in the submission's result."""
    import importlib

    module, _, function = target.partition(":")
    try:
        getattr(importlib.import_module(module), function)()
    except Exception:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)


def _import_check_file(path: Path) -> None:
    """Import a check file once in the slot, under the name pytest's importlib mode gives it
    (the dotted path through its packages): pytest then takes it from sys.modules in every
    submission's session instead of importing it again. The slot never runs a check itself,
    and each submission's process is a fork, so nothing a check does reaches the next one.
    A file outside a package, or one that fails to import, is left to pytest (which reports
    the failure in the submission's result)."""
    import importlib

    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1:
        return
    try:
        importlib.import_module(".".join(parts))
    except Exception:  # noqa: BLE001 - pytest imports it again and says what is wrong
        traceback.print_exc(file=sys.stderr)


def _child(job: dict, token: str, slot: Slot, scratch: Path, write_fd: int) -> None:
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
            result = grade_job(job, slot.zygote, scratch, slot.registry, reference_cache=slot.reference_cache,
                               prepared=slot.sessions)  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - the grader itself failed: say so
            result = error_result(job, f"the grader itself failed: {type(exc).__name__}: {exc}", retry=True)
        payload = json.dumps({"token": token, "result": result}).encode()
        view = memoryview(payload)
        while view:
            n = os.write(write_fd, view)
            view = view[n:]
        os.close(write_fd)  # the slot has the result now, before this process is torn down
    except BaseException:  # noqa: BLE001 - the slot sees a dead child; its log says why
        code = 70
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)


def _child_result(data: bytes, job: dict, token: str) -> dict | None:
    """The child's result if ``data`` is exactly one, for ``job``, with its token; else None."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not _same(doc.get("token"), token):
        return None
    result = doc.get("result")
    if not isinstance(result, dict) or result.get("id") != job["id"]:
        return None
    return result


def _same(got: object, token: str) -> bool:
    """``got`` is ``token`` (compared in constant time: no timing hints about it)."""
    return isinstance(got, str) and hmac.compare_digest(got.encode(), token.encode())


def _stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP, or traced), per /proc; False where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may hold any byte.
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"T", b"t")


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
    cache = Path(sys.argv[2]) if sys.argv[1:2] == ["--reference-cache"] else None
    slot = Slot(fork_zygote=True, reference_cache=cache)  # SlotProcess gave us the workers' environment
    channel.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        envelope = json.loads(line)  # from the batch process, which is trusted
        job, token = envelope["job"], envelope["token"]
        result = slot.grade(job, token)
        channel.write(json.dumps({"result": result, "job": job["id"], "token": token}) + "\n")
        slot.cleanup()
    try:
        slot.zygote.close()
    finally:
        shutil.rmtree(slot.scratch, ignore_errors=True)


# ---------------------------------------------------------------------- the client


def slot_environment() -> dict[str, str]:
    """A slot's environment: the workers' (grader.zygote.worker_environment: its zygote is
    forked from it, and the kernel shows a forked process its parent's environment), plus
    where temporary files and the course data live. Never the instructor's tokens or the
    grading secret: a slot grades with the seeds its jobs carry."""
    from grader.data import DATA_DIR_VARIABLE
    from grader.zygote import worker_environment

    env = worker_environment()
    for name in ("TMPDIR", DATA_DIR_VARIABLE):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env["PYTHONUNBUFFERED"] = "1"
    return env


class SlotDied(RuntimeError):
    """The slot process ended (or stopped answering) while a job was out."""


class SlotUntrusted(SlotDied):
    """The slot's output was not a result for the job it was given: it is killed, never believed.

    ``accepted`` holds the messages that came before the bad line, each checked and
    already taken off the slot's jobs: pass them on before retrying the rest.
    """

    def __init__(self, message: str, accepted: list[dict]):
        super().__init__(message)
        self.accepted = accepted


class SlotProcess:
    """Starts ``python -m grader.batch.slot`` and exchanges JSON lines with it."""

    command = (sys.executable, "-m", "grader.batch.slot")  # tests start a fake slot instead

    def __init__(self, log_path: Path | str | None = None, reference_cache: Path | str | None = None):
        """``reference_cache``: a folder the slot shares reference replies in (grader.refcache)
        with the other slots of its pool; None: the slot keeps its own."""
        self.log_path = Path(log_path) if log_path else None
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = self.environment()
        # ``python -m`` puts its working folder first on sys.path: an empty one of ours, never
        # /tmp, where any local user could plant a grader/ package (or links the jail follows).
        self._cwd = tempfile.mkdtemp(prefix="grader-slot-cwd-")
        try:
            self.proc = subprocess.Popen(
                [*self.command, *(["--reference-cache", str(reference_cache)] if reference_cache else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self._cwd,
                env=env,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        self._buffer = b""
        self.jobs: deque[dict] = deque()  # sent and not answered yet, in order
        self._tokens: deque[str] = deque()  # each job's secret, in the same order
        self.started_at = 0.0  # when the slot began on jobs[0] (as far as we can tell)
        self.ready = False

    def environment(self) -> dict[str, str]:
        return slot_environment()

    @property
    def job(self) -> dict | None:
        """The job the slot is working on now, if any."""
        return self.jobs[0] if self.jobs else None

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, job: dict) -> None:
        """Hand the slot a job, with a fresh secret its result must carry back.

        A slot that is gone raises nothing here: the job stays in ``jobs`` and the
        slot's stdout reaches EOF, which read_messages reports like any other death.
        """
        if not self.jobs:
            self.started_at = time.monotonic()
        token = secrets.token_hex(16)
        self.jobs.append(job)
        self._tokens.append(token)
        try:
            self.proc.stdin.write((json.dumps({"job": job, "token": token}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()

    def read_messages(self) -> list[dict]:
        """Messages available now (call when fileno() is readable).

        Raises SlotDied at EOF, and SlotUntrusted (after killing the slot) for a line
        that is not JSON, not a message of the protocol, or a result that does not name
        the job out or lacks its token.
        """
        chunk = os.read(self.fileno(), 1 << 20)
        if not chunk:
            raise SlotDied(self.describe_exit())
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        out = []
        for line in lines:
            if not line.strip():
                continue
            problem = self._check(line)
            if problem:
                self.kill()
                raise SlotUntrusted(f"the grading slot sent {problem}; it was stopped", out)
            msg = json.loads(line)
            if "result" in msg:
                job = self.jobs.popleft()
                self._tokens.popleft()
                self.started_at = time.monotonic()
                out.append({"result": msg["result"], "job": job})
            else:
                self.ready = True
                out.append({"ready": True})
        return out

    def _check(self, line: bytes) -> str:
        """What is wrong with one line from the slot, or "" for a message we accept."""
        try:
            msg = json.loads(line)
        except ValueError:
            return "a line that is not JSON"
        if not isinstance(msg, dict):
            return "a line that is not a message"
        if "result" not in msg:
            return "" if msg.get("ready") is True and not self.ready else "a message it should not send"
        if not self.jobs:
            return "a result while it had no job"
        job_id = self.jobs[0]["id"]
        result = msg["result"]
        if msg.get("job") != job_id or not isinstance(result, dict) or result.get("id") != job_id:
            return f"a result that is not for its job ({job_id})"
        if not _same(msg.get("token"), self._tokens[0]):
            return f"a result for {job_id} without that job's token"
        return ""

    def run(self, job: dict, timeout: float | None = None) -> dict:
        """Send one job and wait for its result (the Dask path)."""
        self.send(job)
        limit = float(job["options"].get("timeout", SUBMISSION_SECONDS)) + GRACE if timeout is None else timeout
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

    def end_input(self) -> None:
        """No more jobs: the slot finishes its current one, if any, and exits."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def close(self) -> None:
        self.end_input()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        shutil.rmtree(self._cwd, ignore_errors=True)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self._cwd, ignore_errors=True)


if __name__ == "__main__":
    main()
