"""Live workers: fork one from the zygote, talk to it with time limits, replace it when it dies.

:class:`WorkerProcess` is one worker process; :class:`LiveTransport` is what a
:class:`~grader.remote.Session` sends requests through when the code really runs (as
opposed to a replayed reference, ``grader.replay``). Every way a worker can misbehave
(hang, exit, crash, garble the channel, run out of its exercise's time) becomes a
:class:`~grader.errors.StudentError` (or ReferenceFailure) with a message saying which.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from grader import wire
from grader.errors import ReferenceFailure, RemoteError, StudentError, error_doc, format_error, outcome_type
from grader.sandbox import kill_worker
from grader.boundary import WorkerConfig


# The largest reply a student's worker may send without --checkpoint; the trusted side
# refuses a larger one from its header, before allocating anything for it. The largest
# honest reply on the course's own data is gpt2_loading's state_dict of the tiny checkpoint
# (under 1 MiB); 256 MiB leaves room for any honest answer while a batch of slots stays
# far from the machine's memory.
STUDENT_REPLY_BYTES = 256 * 1024 * 1024
# The JSON a student's worker may send in one reply. Data crosses in the blob; the JSON
# holds its structure: the course's largest honest reply has 24 kB of it and 43 objects and
# lists. Parsing costs far more than the bytes (64 MiB of "{}" take 3 GB and 45 s), and no
# call deadline covers it: these keep any reply's parse to a fraction of a second.
STUDENT_JSON = wire.JsonLimits(max_bytes=1024 * 1024, max_containers=20_000)


def reply_cap(settings: dict[str, str] | None = None) -> int:
    """The reply cap for student workers graded with these run settings.

    With ``checkpoint`` (gpt2_loading's --checkpoint) a state_dict reply may be twice the
    weights file (lm_head crosses as its own copy of wte) plus its attention masks: on a
    real GPT-2 124M about 670 MiB. Allow that.
    """
    cap = STUDENT_REPLY_BYTES
    folder = (settings or {}).get("checkpoint")
    if folder:
        weights = [Path(folder) / n for n in ("model.safetensors", "pytorch_model.bin")]
        size = max((p.stat().st_size for p in weights if p.is_file()), default=0)
        cap = max(cap, 2 * size + 256 * 1024 * 1024)
    return min(cap, wire.MAX_FRAME_BYTES)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


class WorkerProcess:
    """One worker forked from the zygote, spoken to over a socket.

    Every exchange has a deadline that covers all of it, from the first byte of the
    request sent to the last byte of the reply received, however slowly it trickles;
    a reply whose header announces more than ``max_reply_bytes`` is refused unread.
    """

    def __init__(self, zygote, config: WorkerConfig, start_timeout: float = 60.0, max_reply_bytes: int = STUDENT_REPLY_BYTES):
        self.config = config
        self.zygote = zygote
        self.max_reply_bytes = max_reply_bytes
        self.json_limits = STUDENT_JSON if config.role == "student" else None
        self.sock, self.pid = zygote.spawn(config.to_json())
        self.dead = False
        deadline = time.monotonic() + max(start_timeout, 0.0)
        # Two frames: the worker's own, before any module code ran (so only it can say the
        # jail was refused), then the hello after the import, which a submission may forge.
        started, _ = self._receive(start_timeout, deadline, "while starting")
        self.isolation_error: str | None = None
        if started.get("started") is not True:
            self.isolation_error = str(started.get("isolation_error", "the worker did not start"))
            self.hello = ({"ready": False}, b"")
            return
        self.hello = self._receive(start_timeout, deadline, "while loading the module")

    def _receive(self, limit: float, deadline: float, during: str) -> tuple[dict, bytes]:
        """The next frame, whole by ``deadline`` (time.monotonic()); else kill the worker.

        ``limit`` is the time the exchange was given, for the message.
        """
        try:
            return wire.recv_frame(self.sock, self.max_reply_bytes, deadline, self.json_limits)
        except (wire.FrameTimeout, socket.timeout):
            self.kill()
            raise _Timeout(limit) from None
        except wire.FrameTooLarge as big:
            self.kill()
            raise _TooLarge(big.size, big.limit) from None
        except (wire.ChannelClosed, ConnectionError):
            # How it ended first: its keeper may still be saving the last output, and a
            # kill now would report our SIGKILL instead of the worker's own end.
            status = self.exit_status()
            self.kill()
            raise _Died(status, during) from None
        except wire.JsonTooLarge as exc:
            self.kill()
            raise _JsonTooLarge(exc.what, exc.limit, exc.hint) from None
        except wire.ProtocolError as exc:
            self.kill()
            raise _Garbled(str(exc)) from None
        except BaseException:
            # Whatever else went wrong reading it, no worker outlives the exchange: one that
            # was never handed back (its hello failed here) would run on unwatched.
            self.kill()
            raise

    def request(self, doc: dict, blob: bytes, timeout: float) -> tuple[dict, bytes]:
        """Send a request and return the reply, all of it within ``timeout`` seconds."""
        if self.dead:
            raise _Died(None, "earlier")
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            wire.send_frame(self.sock, doc, blob, deadline=deadline)
        except wire.FrameTimeout:
            self.kill()
            raise _Timeout(timeout) from None
        except OSError:
            self.kill()
            raise _Died(self.exit_status(), "before the call") from None
        return self._receive(timeout, deadline, "during the call")

    def exit_status(self):
        deadline = time.monotonic() + 1.0
        while True:
            try:
                status = self.zygote.status(self.pid)
            except Exception:
                return None
            if not status.running or time.monotonic() > deadline:
                return status
            time.sleep(0.01)

    def kill(self) -> None:
        self.dead = True
        kill_worker(self.pid)
        try:
            self.sock.close()
        except OSError:
            pass

    def output_tail(self, limit: int = 600) -> str:
        try:
            with open(self.config.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode(errors="replace").strip()
        except OSError:
            return ""


class _Timeout(Exception):
    def __init__(self, seconds: float):
        self.seconds = seconds


class _Died(Exception):
    def __init__(self, status, during: str):
        self.status, self.during = status, during


class _Garbled(Exception):
    pass


class _JsonTooLarge(_Garbled):
    def __init__(self, what: str, limit: str, hint: str):
        super().__init__(f"a reply with {what}, over the limit of {limit}")
        self.what, self.limit, self.hint = what, limit, hint


class _TooLarge(Exception):
    def __init__(self, size: int, limit: int):
        self.size, self.limit = size, limit


@dataclass
class Budget:
    """Seconds that calls into one exercise's code may still take, all together."""

    seconds: float

    def take(self, limit: float) -> float:
        return max(0.0, min(limit, self.seconds))

    def spend(self, seconds: float) -> None:
        self.seconds -= seconds


class LiveTransport:
    """Requests go to a worker; a worker that died is replaced on the next request."""

    eager_diagnose = False  # variants run only when a comparison fails (see remote.Namespace.diagnose)
    keyed = False  # a worker answers whatever it is asked: request keys only name what it builds

    def __init__(self, zygote, config: WorkerConfig, subject: str, max_reply_bytes: int | None = None):
        self.zygote = zygote
        self.config = config
        self.role = config.role
        # The reference is the instructor's own code: only the protocol's limit applies.
        default = STUDENT_REPLY_BYTES if self.role == "student" else wire.MAX_FRAME_BYTES
        self.max_reply_bytes = max_reply_bytes or default
        self.subject = subject  # "your softmax.py" / "the reference softmax"
        self.budget = Budget(config.limits.exercise_seconds)
        self.worker: WorkerProcess | None = None
        self.generation = 0  # bumped per fresh worker: handles from older ones are stale
        self.hello: dict = {}
        # An endless loop is answered once: a call that timed out fails at
        # once every later time, instead of costing each check its own time limit.
        self.hung: dict[str, str] = {}
        # A module that failed to import (raised, exited, crashed, looped) fails the same
        # way at once for every later check, instead of each check forking a worker (or
        # waiting out its time limit) to see it again.
        self.import_failure: tuple[str, str] | None = None

    def _error(self, message: str, type_name: str = "") -> RemoteError:
        cls = StudentError if self.role == "student" else ReferenceFailure
        return cls(message, type_name)

    def _ensure_worker(self) -> WorkerProcess:
        if self.worker is not None and not self.worker.dead:
            return self.worker
        if self.import_failure is not None:
            raise self._error(*self.import_failure)
        if self.budget.seconds <= 0:
            raise self._error(
                f"{self.subject}: out of time (the exercise's {self.config.limits.exercise_seconds:g} s were used up)",
                "Timeout",
            )
        start = time.monotonic()
        try:
            self.worker = WorkerProcess(
                self.zygote, self.config, start_timeout=self.budget.take(60.0), max_reply_bytes=self.max_reply_bytes
            )
        except _Timeout as t:
            raise self._failed_import(
                f"{self.subject} did not finish importing within {t.seconds:.0f} s (an endless loop at import?)", "Timeout"
            ) from None
        except _Died as d:
            raise self._failed_import(f"{self.subject} ended the worker process while being imported: it {_status_text(d.status)}") from None
        except _Garbled as g:
            raise self._failed_import(f"{self.subject} corrupted the grader's channel while being imported ({g})") from None
        except _TooLarge as t:
            raise self._failed_import(self._too_large(t, "while being imported"), "ReplyTooLarge") from None
        finally:
            self.budget.spend(time.monotonic() - start)
        self.generation += 1
        self.hello, _ = self.worker.hello
        if self.worker.isolation_error is not None:
            # Refused before any submitted code ran: the grader's failure, never the student's.
            self.worker.kill()
            raise RemoteError(f"the grader could not isolate {self.subject}: {self.worker.isolation_error}")
        if self.hello.get("ready") is not True:
            self.worker.kill()
            if "error" not in self.hello:
                raise self._failed_import(
                    f"{self.subject} wrote into the grader's channel while being imported (what came was not the "
                    "worker's hello); the worker was stopped", "ProtocolError",
                )  # fmt: skip
            err = error_doc(self.hello["error"])
            raise self._failed_import(format_error(f"importing {self.subject}", err), outcome_type(err))
        return self.worker

    def _failed_import(self, message: str, type_name: str = "") -> RemoteError:
        self.import_failure = (message, type_name)
        return self._error(message, type_name)

    def roundtrip(self, key: str, doc: dict, blob: bytes) -> tuple[dict, bytes]:
        call = _call_signature(doc)
        if call in self.hung:
            raise self._error(self.hung[call], "Timeout")
        worker = self._ensure_worker()
        limit = self.budget.take(self.config.limits.call_seconds)
        start = time.monotonic()
        try:
            return worker.request(doc, blob, limit)
        except _Timeout as t:
            exhausted = t.seconds < self.config.limits.call_seconds
            called = _called_name(doc)
            what = "the exercise's time budget ran out" if exhausted else f"{called} took longer than {t.seconds:g} s"
            text = (f"{self.subject} did not return: {what} (an endless loop, or code much too slow for the checks' "
                    "small inputs?); the worker was stopped")
            if not exhausted:  # past the budget, every later call says "out of time" anyway
                self.hung[call] = text + "; later calls of it were not tried"
            raise self._error(text, "Timeout") from None
        except _Died as d:
            tail = worker.output_tail()
            text = f"{self.subject} ended the worker process {d.during}: it {_status_text(d.status)}"
            if tail:
                text += f"; last output: {tail[-200:]!r}"
            raise self._error(text, "WorkerDied") from None
        except _JsonTooLarge as j:
            raise self._error(f"{self.subject} sent a reply with {j.what}, over the limit of {j.limit} ({j.hint}); "
                              "the grader did not read it and stopped the worker", "ReplyTooLarge") from None  # fmt: skip
        except _Garbled as g:
            raise self._error(f"{self.subject} wrote garbage into the grader's channel ({g}); the worker was stopped", "ProtocolError") from None
        except _TooLarge as t:
            raise self._error(self._too_large(t, "for a call"), "ReplyTooLarge") from None
        finally:
            self.budget.spend(time.monotonic() - start)

    def _too_large(self, t: _TooLarge, when: str) -> str:
        return (
            f"{self.subject} sent a reply of {_mib(t.size)} {when}, over the {_mib(t.limit)} limit; "
            "the grader did not read it and stopped the worker"
        )

    def mistakes(self) -> list[str]:
        self._ensure_worker()
        return list(self.hello.get("mistakes", []))

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None


def _call_signature(doc: dict) -> str:
    """Which code a request runs: a module attribute, or any object the submission built
    (its handles do not outlive the worker a timeout stops), and the attribute path."""
    target = doc.get("target") or {}
    root = str(target.get("root", "module"))
    if root != "module" and not root.startswith("mistake:"):
        root = "object"
    return json.dumps([root, target.get("path", [])])  # a call and its vjp run the same code


def _called_name(doc: dict) -> str:
    """How a timeout names what was called: "train_head", "the call" (of an object)."""
    target = doc.get("target") if isinstance(doc.get("target"), dict) else {}
    path = [str(p) for p in target.get("path", []) if isinstance(p, str)]
    if doc.get("op") in ("call", "vjp") and path:
        return ".".join(path)
    return "the call"


def _status_text(status) -> str:
    if status is None:
        return "stopped answering"
    text = status.describe()
    if status.signal == signal.SIGKILL:
        text += ": a memory or CPU limit, or the grader stopping it"
    elif status.signal == signal.SIGSEGV:
        text += ": a crash in native code"
    elif status.code == 0:
        text += " (sys.exit / os._exit inside submitted code?)"
    return text
