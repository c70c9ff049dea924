"""A warm process that has imported torch once and forks a fresh worker on request.

Importing torch costs seconds; forking a process that already has it costs milliseconds.
The grader starts the zygote as early as it can (so its torch import overlaps the
grader's own), then asks it for workers. The zygote never loads submission or solution
code: each child loads its own after the fork, so no worker inherits another's state.

Control messages travel over a SOCK_SEQPACKET socket pair (one JSON document per
message). A ``spawn`` request carries, as ancillary data, the file descriptor of the
socket the new worker will talk on; the reply gives the worker's pid. The zygote reaps
its children and answers ``status`` with how a worker ended.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from grader.hugepages import collapse, with_huge_pages

CONTROL_BYTES = 1 << 20


@dataclass(frozen=True)
class ExitStatus:
    """How a worker process ended; ``running`` while it has not."""

    running: bool
    code: int | None = None
    signal: int | None = None

    def describe(self) -> str:
        if self.running:
            return "is still running"
        if self.signal is not None:
            name = signal.Signals(self.signal).name if self.signal in signal.Signals._value2member_map_ else str(self.signal)
            return f"was killed by signal {self.signal} ({name})"
        return f"exited with code {self.code}"


# ---------------------------------------------------------------------- the server


def _import_modules(names) -> dict[str, str]:
    """Import ``names`` here, once, so that every worker forked later has them: name -> why it
    failed, for those that did (workers then import them themselves, slower)."""
    failed = {}
    for name in names:
        try:
            __import__(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"grader zygote: importing {name} failed ({failed[name]})", file=sys.stderr)
    return failed


def warm_imports() -> None:
    """What every worker needs imported: torch, safetensors and the worker code (and, when a
    zygote is forked from its client, what that client imports before the fork)."""
    import safetensors.torch  # noqa: F401
    import torch  # noqa: F401
    import torch.nn.functional  # noqa: F401

    import grader.worker  # noqa: F401


def _warm_worker_only_imports() -> None:
    """What workers need and the zygote's client does not: imported in the zygote itself,
    so a batch slot (which forks its zygote after warm_imports) neither waits for them nor
    carries them into the process it forks per submission (sympy: ~33 MiB of heap)."""
    try:
        # The first backward() imports sympy through this module (~0.4-0.9 s); import it
        # here once so forked workers do not each pay for it.
        import torch.fx.experimental.symbolic_shapes  # noqa: F401
    except Exception:
        pass


def _serve(control: socket.socket, preload: tuple[str, ...] = ()) -> None:
    from grader import worker
    from grader.boundary import WorkerConfig

    warm_imports()
    _warm_worker_only_imports()
    _import_modules(preload)
    from grader.jail import prepare_filter

    prepare_filter()  # written once here, loaded by each worker
    collapse()  # every worker is a fork of what we hold now

    statuses: dict[int, tuple[int | None, int | None]] = {}
    children: set[int] = set()
    control.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            statuses[pid] = (
                (os.WEXITSTATUS(status), None) if os.WIFEXITED(status) else (None, os.WTERMSIG(status))
            )

    try:
        while True:
            readable, _, _ = select.select([control], [], [], 0.05)
            reap()
            if not readable:
                continue
            msg, fds, _, _ = socket.recv_fds(control, CONTROL_BYTES, 4)
            if not msg:
                return
            request = json.loads(msg)
            if request["op"] == "spawn":
                pid = os.fork()
                if pid == 0:
                    control.close()
                    worker.run(socket.socket(fileno=fds[0]), WorkerConfig.from_json(request["config"]))
                for fd in fds:
                    os.close(fd)
                statuses.pop(pid, None)  # a reused pid: how an earlier worker of that number ended is not this one's
                children.add(pid)
                control.send(json.dumps({"pid": pid}).encode())
            elif request["op"] == "status":
                reap()
                pid = int(request["pid"])
                if pid in statuses:
                    code, sig = statuses[pid]
                    reply = {"running": False, "code": code, "signal": sig}
                else:
                    reply = {"running": pid in children}
                control.send(json.dumps(reply).encode())
            elif request["op"] == "end_all":
                # A batch slot's submission is over: none of its workers outlives it, even one
                # the grader's side lost hold of, to take CPU or memory from the next student.
                from grader.sandbox import kill_worker

                for pid in children:
                    kill_worker(pid)
                control.send(json.dumps({"ended": len(children)}).encode())
            elif request["op"] == "import":
                # Modules some exercise's workers import at run time (ExerciseSpec.worker_imports).
                names = [str(name) for name in request["modules"]]
                fresh = [name for name in names if name not in sys.modules]
                failed = _import_modules(names)
                if fresh:
                    collapse()  # (asked again for every job: only what is new costs)
                control.send(json.dumps({"failed": failed}).encode())
    finally:
        from grader.sandbox import kill_worker

        for pid in children:
            kill_worker(pid)


# What the zygote (and so every worker, which can read its own environment) inherits of
# ours: what Python, torch and CUDA need to run, never the instructor's tokens or secrets.
ENVIRONMENT_KEPT = ("PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "PYTHONPATH",
                    "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # fmt: skip
ENVIRONMENT_KEPT_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "PYTORCH_", "TORCH_")


def worker_environment(environ=None) -> dict[str, str]:
    """What of ``environ`` (default: ours) the zygote and its workers get."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k in ENVIRONMENT_KEPT or k.startswith(ENVIRONMENT_KEPT_PREFIXES)}
    env["HOME"] = "/tmp"  # a jailed worker's only writable folder
    # Every worker is a fork of the zygote: malloc on huge pages makes that cheaper (grader.hugepages).
    env["GLIBC_TUNABLES"] = with_huge_pages(environ.get("GLIBC_TUNABLES", ""))
    return env


# A zygote forked from its client (Zygote(fork=True)) sets this as its os.environ: computed
# at import, while the client's environment is still the one it was started with.
_WORKER_ENVIRONMENT = worker_environment()


def main() -> None:
    """The zygote as its own process (``python -c 'from grader.zygote import main; main()' FD ...``)."""
    _run(socket.socket(fileno=int(sys.argv[1])), tuple(sys.argv[2:]))


def _run(control: socket.socket, preload: tuple[str, ...]) -> None:
    from grader.sandbox import JAIL_ROOT, die_with_parent

    die_with_parent()
    os.mkdir(JAIL_ROOT)  # in our private working folder; each worker mounts its root on it
    try:
        _serve(control, preload)
    except (ConnectionError, KeyboardInterrupt):
        pass
    os._exit(0)


def _become_zygote(control: socket.socket, scratch: str) -> None:
    """In a child just forked from a client that has only imported modules so far: drop
    everything of the client's but the control socket, then serve. Never returns."""
    try:
        os.chdir(scratch)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # the client's stdout may be its channel to its own caller
        keep = {0, 1, 2, control.fileno()}
        for fd in _open_fds():
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.environ.clear()
        os.environ.update(_WORKER_ENVIRONMENT)
        _run(control, ())
    finally:
        os._exit(70)


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1024))


class _ForkedProcess:
    """The Popen-like handle of a zygote forked from this process."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("zygote", timeout)
            time.sleep(0.01)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------------- the client


class ZygoteError(RuntimeError):
    """The zygote could not be started or stopped answering."""


class Zygote:
    """Client side: start the zygote process, fork workers from it."""

    def __init__(self, preload: tuple[str, ...] = (), fork: bool = False) -> None:
        """``preload``: modules the zygote imports before it is ready, besides torch.

        ``fork``: fork the zygote from this process after importing torch here, instead of
        starting a fresh interpreter that imports it again (a batch slot: one torch import,
        not two). Only for a process whose environment is already the workers'
        (:func:`worker_environment`: the kernel shows a forked child its parent's) and which
        holds nothing a student may not see: it has imported modules, nothing more. A
        restart always starts a fresh interpreter, since by then this process holds more.
        """
        self.preload = tuple(preload)  # grows with import_modules: a restarted zygote has them too
        self._lock = threading.Lock()
        self.restarts = 0
        # Where this zygote's scratch folders go, fixed now: a restart happens mid-run, while
        # grader.runner points tempfile at the run's inputs folder, which is removed when the
        # run ends (and with it the restarted zygote's working folder, breaking every later
        # worker).
        self._scratch_base = tempfile.gettempdir()
        self._start(fork)

    def _start(self, fork: bool = False) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # cwd is an empty scratch folder so nothing near the course repo is importable
        # by accident through sys.path[0].
        self.scratch = tempfile.mkdtemp(prefix="grader-", dir=self._scratch_base)
        if fork:
            warm_imports()
            _import_modules(self.preload)
            pid = os.fork()
            if pid == 0:
                parent.close()
                _become_zygote(child, self.scratch)
            self._proc = _ForkedProcess(pid)
        else:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from grader.zygote import main; main()", str(child.fileno()), *self.preload],
                pass_fds=[child.fileno()],
                cwd=self.scratch,
                stdin=subprocess.DEVNULL,
                env=worker_environment(),
            )
        child.close()
        self._owner = os.getpid()
        self._control = parent
        self._ready = False

    def wait_ready(self, timeout: float = 120.0) -> None:
        if self._ready:
            return
        self._control.settimeout(timeout)
        try:
            msg = self._control.recv(CONTROL_BYTES)
        except (socket.timeout, OSError) as exc:
            raise ZygoteError(f"the worker zygote did not start: {exc}") from None
        if not msg:
            raise ZygoteError(f"the worker zygote exited during start-up (code {self._proc.poll()})")
        self._control.settimeout(None)
        self._ready = True

    def alive(self) -> bool:
        if os.getpid() != self._owner:
            # A forked copy of this client (a batch slot's per-submission process): the
            # zygote is not our child, so poll() would report it dead; ask /proc instead.
            return _pid_alive(self._proc.pid)
        return self._proc.poll() is None

    def _restart(self) -> None:
        """Start a fresh zygote after the old one died (a submission may kill it:
        it runs as the same user). Its workers died with it (PDEATHSIG)."""
        try:
            self._control.close()
        except OSError:
            pass
        try:
            self._proc.kill()
            self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.restarts += 1
        self._start()

    def _ask(self, request: dict, fds: list[int] = (), timeout: float = 30.0) -> dict:
        for attempt in (1, 2):
            if not self.alive() and request["op"] == "spawn":
                with self._lock:
                    if not self.alive():
                        self._restart()
            try:
                self.wait_ready()
                with self._lock:
                    socket.send_fds(self._control, [json.dumps(request).encode()], list(fds))
                    self._control.settimeout(timeout)
                    msg = self._control.recv(CONTROL_BYTES)
                if msg:
                    return json.loads(msg)
                error = "the worker zygote exited"
            except (OSError, ZygoteError) as exc:
                error = f"the worker zygote stopped answering: {exc}"
            if request["op"] != "spawn" or attempt == 2:
                raise ZygoteError(error)
            time.sleep(0.05)  # let the dead process be reaped, then restart it
        raise ZygoteError("unreachable")

    def spawn(self, config_json: dict) -> tuple[socket.socket, int]:
        """Fork a worker; return the socket to talk to it and its pid."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self._ask({"op": "spawn", "config": config_json}, [theirs.fileno()])
        finally:
            theirs.close()
        return ours, int(reply["pid"])

    def import_modules(self, names) -> None:
        """Import ``names`` in the zygote (once each), so the workers it forks from now on
        need not: a batch asks for what its exercises' workers import (e.g. torch._dynamo,
        which the first torch.optim optimizer pulls in, ~2.5 s per fresh worker)."""
        missing = tuple(name for name in names if name not in self.preload)
        if not missing:
            return
        self._ask({"op": "import", "modules": list(missing)}, timeout=120.0)
        self.preload += missing

    def end_all(self) -> int:
        """Kill every worker this zygote forked that is still running; how many there were."""
        return int(self._ask({"op": "end_all"}).get("ended", 0))

    def status(self, pid: int) -> ExitStatus:
        reply = self._ask({"op": "status", "pid": pid})
        if reply.get("running"):
            return ExitStatus(True)
        if "code" not in reply:
            return ExitStatus(False)
        return ExitStatus(False, reply.get("code"), reply.get("signal"))

    def close(self, wait: bool = True) -> None:
        """Stop the zygote: closing its control socket makes it kill its workers and exit.

        ``wait=False`` does not wait for that (the CLI's fast exit); a zygote still
        importing torch is killed outright rather than waited for.
        """
        try:
            self._control.close()
        finally:
            try:
                if not self._ready:
                    self._proc.kill()
                if wait:
                    self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X", "x")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except OSError:
            return True


_default: Zygote | None = None


def shutdown_default(wait: bool = True) -> None:
    """Close the process-wide zygote, if one was started."""
    global _default
    if _default is not None:
        _default.close(wait=wait)
        _default = None


def default_zygote() -> Zygote:
    """The process-wide zygote, started on first use (the CLI starts it first thing)."""
    global _default
    if _default is None:
        import atexit

        _default = Zygote()
        atexit.register(_default.close)
    return _default
