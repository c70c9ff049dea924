"""Hardening applied inside a freshly forked worker before any submission code runs.

Everything here is best effort and Linux-first: each protection that the OS grants is
applied and named in the list returned by :func:`harden`; one it refuses is skipped. The
real guarantee does not depend on these: the verdict is decided in another process.

- its own session (so the grader can kill it and everything it started),
- stdin from /dev/null, stdout/stderr to a capped log file (an output flood fills nothing),
- resource limits: address space, CPU seconds, file size, no core dumps,
- a fresh network namespace (no network) and mount namespace in which the solution
  folders are covered by an empty tmpfs, where the kernel allows it,
- ``import solutions`` (and any other hidden package) refused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import os
import resource
import signal
import sys
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process."""

    call_seconds: float = 20.0  # one call into student code
    exercise_seconds: float = 120.0  # all calls of one exercise together
    memory_bytes: int = 4 * 1024**3  # address space on top of what torch already maps
    output_bytes: int = 1024 * 1024  # what student code may print
    threads: int = 1  # torch intra-op threads: one per worker keeps batches fair

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


def _unshare_and_hide(hide: list[str], result: Hardening) -> None:
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET | CLONE_NEWNS
    if libc.unshare(flags) != 0:
        # Not root: an unprivileged user namespace may still grant both.
        if libc.unshare(flags | CLONE_NEWUSER) != 0:
            result.skipped.append("network and mount namespaces (unshare refused)")
            return
        try:
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError:
            pass
    result.applied.append("no network (new network namespace)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        result.skipped.append("hiding solution folders (mount refused)")
        return
    for path in hide:
        if os.path.isdir(path) and libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"size=4k") == 0:
            result.applied.append(f"hidden: {path}")
        elif os.path.isdir(path):
            result.skipped.append(f"hiding {path} (mount refused)")


def harden(
    limits: Limits,
    log_path: str,
    hide_dirs: list[str],
    block_packages: set[str],
    device: str = "cpu",
) -> Hardening:
    result = Hardening()
    os.setsid()
    die_with_parent()

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for fd in (devnull, log):
        os.close(fd)

    _unshare_and_hide(hide_dirs, result)

    # A write past the cap must fail with EFBIG in the student's print(), not kill us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits_to_set = [
        (resource.RLIMIT_CORE, 0, "no core dumps"),
        (resource.RLIMIT_FSIZE, limits.output_bytes, "output capped"),
        (resource.RLIMIT_CPU, int(limits.exercise_seconds) + 5, "CPU seconds"),
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
