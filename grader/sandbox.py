"""Hardening applied inside a freshly forked student worker before any submission code runs.

- its own session (so the grader can kill it and everything it started),
- stdin from /dev/null, stdout/stderr into a log that keeps the first and last part
  (grader/output.py): printing never fails a check, a flood fills nothing,
- the jail (``grader/jail.py``): own PID, mount and network namespaces, a minimal
  read-only root, no privileges, a seccomp filter; required in a batch, best effort on a
  student's own machine,
- resource limits: address space, CPU seconds, file size, processes, no core dumps,
- ``import solutions`` (and any other hidden package) refused.

Verdicts never depend on any of this: they are decided in another process.
"""

from __future__ import annotations

import ctypes
import functools
import ctypes.util
import importlib.abc
import os
import resource
import signal
import sys
from dataclasses import dataclass, field

from grader import jail, output
from grader.jail import JailPolicy

PR_SET_PDEATHSIG = 1
# How much isolation a student worker insists on (see harden()).
REQUIRED, BEST_EFFORT, OFF = "required", "best-effort", "off"
ISOLATION_MODES = (REQUIRED, BEST_EFFORT, OFF)
# The empty folder, in the zygote's private working folder, each jailed worker builds its
# root on (in its own mount namespace, so workers never see each other's).
JAIL_ROOT = "jail-root"
# The largest file a worker may write (its scratch is capped as a whole by the jail).
FILE_BYTES = 64 * 1024**2
# Open files per worker: Python, torch and a submission need a few dozen.
OPEN_FILES = 256


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process."""

    call_seconds: float = 20.0  # one call into student code
    exercise_seconds: float = 120.0  # all calls of one exercise together
    memory_bytes: int = 4 * 1024**3  # address space on top of what torch already maps
    output_bytes: int = 1024 * 1024  # what is kept of what student code prints (first and last half)
    threads: int = 1  # torch intra-op threads: one per worker keeps batches fair
    # Share of the GPU's memory one worker's torch allocator may hold (--device cuda): a
    # batch runs several workers on one card, and one student's runaway allocation must
    # not starve the others. 1/8 of an 80 GB card is 10 GB, far above what any check needs.
    # It stops mistakes, not a determined student (the allocator setting lives in the
    # worker's own process); see README "Security".
    gpu_memory_fraction: float = 0.125

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, doc: dict) -> "Limits":
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


@dataclass
class Hardening:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _BlockImports(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (not available to submissions)", name=fullname
            )
        return None


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (no orphans)."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def kill_worker(pid: int) -> None:
    """SIGKILL a worker and everything it started: it leads its own process group
    (see :func:`harden`); one that died before its setsid() is killed alone."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except OSError:
            continue


def harden(
    limits: Limits,
    log_path: str,
    block_packages: set[str],
    device: str = "cpu",
    policy: JailPolicy | None = None,
    isolation: str = REQUIRED,
) -> Hardening:
    """Harden this freshly forked student worker; returns (in the jailed worker) what was applied.

    ``isolation``: ``required`` raises :class:`~grader.jail.JailUnavailable` when the
    kernel refuses the jail; ``best-effort`` goes on without it and says so; ``off`` skips it.
    """
    result = Hardening()
    os.setsid()  # the grader kills this group; the jailed worker cannot leave it (seccomp)
    die_with_parent()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    # This process splits in two: the keeper (trusted, outside any jail) waits for the
    # worker and keeps what it prints in the log, capped (grader.output); the worker goes on.
    read_fd, write_fd = os.pipe()
    keeper = functools.partial(output.keep, read_fd=read_fd, log_path=log_path, cap=limits.output_bytes)
    split = False
    if isolation == OFF:
        result.skipped.append("isolation (--no-sandbox)")
    else:
        try:
            result.applied += jail.enter(policy or JailPolicy(device=device), os.path.abspath(JAIL_ROOT), keeper).layers
            split = True
        except jail.JailUnavailable as exc:
            split = exc.after_fork
            if isolation == REQUIRED:
                raise
            result.skipped.append(f"isolation ({exc})")
    if not split:
        child = os.fork()
        if child != 0:
            keeper(child)
            os._exit(70)  # a keeper never returns
        die_with_parent()
    os.close(read_fd)
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    # Files (not output, which is a pipe) past the cap fail with EFBIG, never kill us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits_to_set = [
        (resource.RLIMIT_CORE, 0, "no core dumps"),
        (resource.RLIMIT_FSIZE, FILE_BYTES, "file size"),
        (resource.RLIMIT_CPU, int(limits.exercise_seconds) + 5, "CPU seconds"),
        # Each pipe or socket may hold kernel memory the address-space cap does not count.
        (resource.RLIMIT_NOFILE, OPEN_FILES, "open files"),
    ]
    if device == "cpu":
        # CUDA reserves huge virtual ranges, so an address-space cap is CPU-only.
        limits_to_set.append((resource.RLIMIT_AS, _current_vm_bytes() + limits.memory_bytes, "memory"))
    for which, value, name in limits_to_set:
        try:
            resource.setrlimit(which, (value, value))
            result.applied.append(name)
        except (ValueError, OSError):
            result.skipped.append(name)

    sys.meta_path.insert(0, _BlockImports(block_packages))
    for name in list(sys.modules):
        if name.split(".")[0] in block_packages:
            del sys.modules[name]
    return result


def _current_vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
