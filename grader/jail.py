"""The student worker's isolation: layers set up by trusted code that the submission cannot undo.

A student worker is forked from the warm zygote, so exec-based sandboxes (bubblewrap,
nsjail) would cost a torch import per worker; instead the fork itself enters the same
layers they build, with the kernel's own primitives, and libseccomp (``pyseccomp``) writes
the system-call filter. In order, before any submitted code is loaded:

1. **Namespaces** (``unshare``): new PID, mount, network, IPC and UTS namespaces, plus a
   user namespace when the grader is not root. The forked process (the *keeper*) stays
   outside and waits; its child is PID 1 of the new PID namespace and becomes the worker.
   The worker sees no process outside its job, and when it ends the kernel kills
   everything it started (double forks and ``setsid`` included).
2. **A minimal root** (``pivot_root`` onto a fresh tmpfs): the system and Python
   directories and the few paths the job needs, all bind-mounted read-only; a private
   ``/proc`` of the new PID namespace; a few device nodes; a size-capped writable ``/tmp``
   and ``/dev/shm``. The old root is detached: solutions, hidden checks, check files,
   other jobs, SUBMISSIONS, RESULTS and the instructor's home are not in this world.
3. **No privileges:** every capability dropped (bounding set included), ``no_new_privs``,
   and, when the grader is root, a switch to an unprivileged uid unique to this worker
   (1,000,000 + the keeper's pid), so nothing can be unmounted, re-entered or signalled.
4. **Seccomp:** ptrace, ``process_vm_*``, ``pidfd_*``, the mount family, ``setns``,
   ``unshare`` and namespace flags of ``clone``, ``setsid``/``setpgid`` (the worker stays
   in the group the grader kills), bpf, keyrings, perf, module loading, io_uring, ... fail
   with EPERM.

:func:`probe` tells, in the trusted process, whether this machine grants all of it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import platform
import resource
import signal
import sys
from dataclasses import dataclass, field
from typing import Callable

from grader.output import max_fd, mirror

try:  # loaded on the trusted side, before any fork: the jail has no ldconfig to find it
    import pyseccomp as seccomp

    _SECCOMP_MISSING = ""
except (ImportError, OSError, AttributeError) as _exc:  # no libseccomp.so.2, or not Linux
    seccomp = None
    _SECCOMP_MISSING = f"{type(_exc).__name__}: {_exc}"

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
)  # fmt: skip

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}

# The first uid of the range a root grader hands its workers (uid = base + keeper pid):
# no account uses it, and two live workers never share one (pids are unique).
WORKER_UID_BASE = 1_000_000
# Directories of the host every worker sees read-only: the system's programs and libraries.
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Packages no worker may read, even where they sit inside a folder it sees: the reference
# solutions with the hidden checks, and the check files.
HIDDEN_PACKAGES = ("solutions", "exercises")


class JailUnavailable(RuntimeError):
    """The kernel or container refused one of the layers (the message says which).

    ``after_fork``: raised in the worker, after the keeper split off (see :func:`enter`)."""

    def __init__(self, message: str, after_fork: bool = False):
        super().__init__(message)
        self.after_fork = after_fork


@dataclass(frozen=True)
class JailPolicy:
    """What one student worker's world holds."""

    read_only: tuple[str, ...] = ()  # the job's paths: submission files, data, check inputs
    scratch_bytes: int = 64 * 1024**2  # the writable /tmp (and /dev/shm), in memory
    processes: int = 32  # tasks (threads included) the worker may run at once
    device: str = "cpu"

    def to_json(self) -> dict:
        return {"read_only": list(self.read_only), "scratch_bytes": self.scratch_bytes,
                "processes": self.processes, "device": self.device}  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict) -> "JailPolicy":
        doc = dict(doc)
        doc["read_only"] = tuple(doc.get("read_only", ()))
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


@dataclass
class Entered:
    """What :func:`enter` set up, for the worker's hello."""

    layers: list[str] = field(default_factory=list)


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


_LIBC = _libc()


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise JailUnavailable(f"{what}: {os.strerror(code)}")


# ---------------------------------------------------------------------- 1. namespaces


def _unshare() -> None:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        _check(_LIBC.unshare(flags), "unshare (PID, mount, network namespaces)")
        return
    # Not root: a user namespace grants the rest. Inside it we keep our own uid, so the
    # files we can read are exactly the ones we could read before.
    uid, gid = os.geteuid(), os.getegid()
    _check(_LIBC.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def _keep(child: int) -> None:
    """The plain keeper: outside the new PID namespace, it waits for the worker (PID 1
    inside) and ends the same way, so the zygote reports how the worker ended."""
    os.closerange(3, max_fd())  # above all the worker's socket: its EOF must reach the grader
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(70)
    mirror(status)


# ---------------------------------------------------------------------- 2. a minimal root


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None, what: str) -> None:
    enc = (lambda s: os.fsencode(s) if s is not None else None)  # a path is bytes, UTF-8 or not
    _check(_LIBC.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"{what} ({target})")


def _inherited_flags(path: str) -> int:
    """Mount flags of ``path``'s own mount that a user namespace may not clear on a remount."""
    try:
        st = os.statvfs(path).f_flag
    except OSError:
        return 0
    out = 0
    for st_bit, ms_bit in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                           (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                           (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):  # fmt: skip
        if st & st_bit:
            out |= ms_bit
    return out


def _bind_read_only(root: str, path: str, device: bool = False) -> None:
    target = root + path
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(path, target, None, MS_BIND | MS_REC, None, "bind mount")
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _inherited_flags(path)
    if not device:
        flags |= MS_NODEV
    _mount(None, target, None, flags, None, "read-only remount")


def _visible_paths(policy: JailPolicy) -> list[str]:
    """Every host path the worker's root shows, outermost first, none inside another."""
    import grader

    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    # Import folders, but none in or around the checkout the grader runs from (a PYTHONPATH
    # or a test runner may name it, or its tests/): the solutions, the secret and perhaps
    # RESULTS live there. A virtual environment inside the checkout is still Python's.
    checkout = _checkout()
    # Never a folder anyone may write to (a /tmp on sys.path): any local user could plant
    # links there, and each link's folder would be shown.
    imports = {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p) and not _anyone_writes(p)}
    # Links are followed only in Python's own folders (a student kit's venv links each
    # package of the course's site-packages), never elsewhere.
    imports |= {t for p in list(imports) if any(_contains(prefix, p) for prefix in prefixes) for t in _link_targets(p)}
    imports = {
        p for p in imports
        if checkout is None or any(_contains(prefix, p) for prefix in prefixes)
        or not (_contains(p, checkout) or _contains(checkout, p))
    }  # fmt: skip
    wanted = prefixes | imports
    # The grader package itself (an editable install maps it to the checkout): the worker's
    # lazy imports come from there. Only the package, never the checkout around it.
    wanted.add(os.path.dirname(os.path.realpath(grader.__file__)))
    wanted |= {os.path.realpath(p) for p in policy.read_only}
    if policy.device == "cuda":
        wanted.add("/sys")
    # The trusted side's working folder holds the folder the root is built on: never show it
    # (nor a folder around it, such as a whole /tmp).
    cwd = os.path.realpath(os.getcwd())
    out: list[str] = []
    for path in sorted(p for p in wanted if os.path.exists(p) and not _contains(p, cwd)):
        if not any(_contains(kept, path) for kept in out):
            out.append(path)
    return out


def _anyone_writes(folder: str) -> bool:
    try:
        return bool(os.stat(folder).st_mode & 0o002)
    except OSError:
        return True


def _link_targets(folder: str) -> set[str]:
    """Folders that symlinks in an import folder point into (a student kit's venv links
    each package of the course's site-packages): a link into an unseen folder is dangling."""
    out = set()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return out
    for entry in entries:
        if entry.is_symlink():
            out.add(os.path.dirname(os.path.realpath(entry.path)))
    return out


def _checkout() -> str | None:
    """The source checkout the grader package lives in (an editable install), if it is one."""
    import grader

    parent = os.path.dirname(os.path.dirname(os.path.realpath(grader.__file__)))
    return parent if os.path.exists(os.path.join(parent, "pyproject.toml")) else None


def _hidden_packages(shown: list[str]) -> list[str]:
    """Folders of the course's secret packages, wherever they are installed: a regular (not
    editable) install puts ``solutions`` and the check files into site-packages, which
    the worker sees; they get an empty mount on top."""
    import importlib.util

    out = [os.path.join(p, name) for p in shown for name in HIDDEN_PACKAGES
           if os.path.isfile(os.path.join(p, name, "__init__.py"))]  # fmt: skip
    for name in HIDDEN_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None:
            out += [os.path.realpath(p) for p in (spec.submodule_search_locations or [])]
    return out


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _build_root(root: str, policy: JailPolicy, layers: list[str]) -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None, "private mount propagation")
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755", "tmpfs root")
    os.makedirs(root + "/dev", exist_ok=True)
    _mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755", "tmpfs /dev")
    # The writable scratch first: job paths under the host's /tmp are bound inside it.
    scratch = f"size={policy.scratch_bytes},mode=1777"
    for place in ("/tmp", "/dev/shm"):
        os.makedirs(root + place, exist_ok=True)
        _mount("tmpfs", root + place, "tmpfs", MS_NOSUID | MS_NODEV, scratch, f"tmpfs {place}")
    for top in SYSTEM_DIRS:
        if os.path.islink(top):  # merged /usr: /bin -> usr/bin
            os.symlink(os.readlink(top), root + top)
        elif os.path.isdir(top):
            _bind_read_only(root, top)
    shown = _visible_paths(policy)
    for path in shown:
        if not any(_contains(top, path) for top in SYSTEM_DIRS):
            _bind_read_only(root, path)
    for secret in _hidden_packages(shown):
        if os.path.isdir(root + secret) and any(_contains(p, secret) for p in [*shown, *SYSTEM_DIRS]):
            _mount("tmpfs", root + secret, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555", "hiding")
    devices = [f"/dev/{name}" for name in DEVICES]
    if policy.device == "cuda":
        devices += [f"/dev/{n}" for n in sorted(os.listdir("/dev")) if n.startswith("nvidia")]
    for dev in devices:
        if os.path.exists(dev):
            _bind_read_only(root, dev, device=True)
    os.makedirs(root + "/proc", exist_ok=True)
    try:
        # Read-only: nothing under /proc/sys or /proc/self is the submission's to change.
        _mount("proc", root + "/proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "procfs")
        layers.append("own /proc")
    except JailUnavailable:
        # A container that masks parts of its /proc refuses a fresh procfs to a user
        # namespace; then the worker has no /proc at all, which hides even more.
        layers.append("no /proc")
    _mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None, "read-only root")
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise JailUnavailable(f"pivot_root: unknown architecture {platform.machine()}")
    _check(_LIBC.syscall(number, b".", b"."), "pivot_root")
    # The old root now sits on top of the new one: detach it, and nothing of the host's
    # tree remains reachable.
    _check(_LIBC.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/tmp")
    layers.append(f"minimal read-only root ({len(shown)} host paths)")


# ---------------------------------------------------------------------- 3. no privileges


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_privileges(keeper_pid: int, processes: int, layers: list[str]) -> None:
    for cap in range(64):
        if _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    _LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    # Limits that a capability would let us ignore go on while we still may set them.
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    if os.geteuid() == 0:
        uid = WORKER_UID_BASE + keeper_pid
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # leaving uid 0 clears every capability
        layers.append(f"unprivileged uid {uid}")
    data = (_CapData * 2)()
    _check(_LIBC.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data), "dropping capabilities")
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/self/status") if os.path.exists("/proc/self/status") else open(os.devnull) as f:
        status = f.read()
    if "CapEff:\t0000000000000000" not in status and "CapEff" in status:
        raise JailUnavailable("capabilities survived the drop")
    layers.append("no capabilities, no_new_privs")


# ---------------------------------------------------------------------- 4. seccomp

# Calls no submission needs, each one a way out of (or into) somebody else's process or
# namespace, or to memory the address-space cap does not count (a memfd's or a SysV
# segment's pages live on after they are unmapped: 24 memfds held 1.5 GiB past it; SysV
# semaphore sets and message queues are kernel memory: 300 sets held 1 GiB). Calls
# this kernel or libseccomp does not know are skipped.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "kcmp", "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "setsid", "setpgid", "bpf", "keyctl",
    "add_key", "request_key", "perf_event_open", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "open_by_handle_at", "name_to_handle_at", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "quotactl", "swapon",
    "swapoff", "reboot", "syslog", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "iopl", "ioperm", "lookup_dcookie", "personality", "vhangup", "uselib", "nfsservctl",
    "setdomainname", "sethostname", "lsm_set_self_attr", "landlock_restrict_self",
    "memfd_create", "memfd_secret", "shmget", "shmat", "semget", "msgget",
)  # fmt: skip


def prepare_filter() -> None:
    """Write the seccomp filter now, in the trusted process that forks workers, which then
    only load it (writing it in a fresh fork, every page touched copied, took 5 ms a
    worker); a no-op where libseccomp is missing (each worker then reports that itself)."""
    if seccomp is not None:
        _filter()


def _seccomp(layers: list[str]) -> None:
    if seccomp is None:
        raise JailUnavailable(f"seccomp: libseccomp is not usable ({_SECCOMP_MISSING})")
    filt, denied = _filter()
    filt.load()
    layers.append(f"seccomp ({denied} calls denied)")


@functools.cache  # written once per process
def _filter() -> tuple:
    """(the libseccomp filter, how many calls it denies)."""
    deny = seccomp.ERRNO(errno.EPERM)
    filt = seccomp.SyscallFilter(seccomp.ALLOW)  # other architectures' calls are killed
    denied = 0
    for name in DENIED_SYSCALLS:
        try:
            filt.add_rule(deny, name)
            denied += 1
        except (ValueError, RuntimeError, OSError):
            pass
    for flag in NAMESPACE_FLAGS:  # clone() into a new namespace
        filt.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back
    # to clone(), whose flags it can.
    filt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    filt.add_rule(deny, "prctl", seccomp.Arg(0, seccomp.EQ, PR_SET_PDEATHSIG))  # keep dying with the keeper
    filt.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, 0x5412))  # TIOCSTI
    return filt, denied


# ---------------------------------------------------------------------- the entry point


def enter(policy: JailPolicy, root: str, keeper: Callable[[int], None] = _keep) -> Entered:
    """Put this freshly forked, single-threaded process into its jail.

    Returns in the worker (PID 1 of its namespace), with privileges dropped and the filter
    loaded; the calling process becomes the keeper, runs ``keeper(worker_pid)`` and never
    returns. ``root`` is an empty directory of the trusted side's to build the new root on
    (it stays empty on the host). Raises :class:`JailUnavailable` when the kernel refuses a
    layer: before the fork (``after_fork`` False) or, in the worker, after it.
    """
    entered = Entered()
    keeper_pid = os.getpid()
    _unshare()
    child = os.fork()
    if child != 0:
        keeper(child)
        os._exit(70)  # a keeper never returns
    # The worker: PID 1 of a fresh namespace. Die with the keeper (which the grader kills).
    # (Killed before this line, the worker is still in the keeper's process group, which
    # the grader kills as a whole.)
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    entered.layers.append("own PID, mount, network, IPC namespaces")
    try:
        _build_root(root, policy, entered.layers)
        _drop_privileges(keeper_pid, policy.processes, entered.layers)
        _seccomp(entered.layers)
    except JailUnavailable as exc:
        exc.after_fork = True
        raise
    except OSError as exc:
        raise JailUnavailable(f"{type(exc).__name__}: {exc}", after_fork=True) from None
    return entered


def probe(timeout: float = 60.0) -> str | None:
    """Whether this machine grants every layer: None if it does, else the first refusal.

    Runs in a fresh interpreter: forking the caller (which may have threads holding locks,
    pytest's or rich's) could leave the child waiting for a lock forever.
    """
    import subprocess

    if not sys.platform.startswith("linux"):
        return f"{platform.system()} has no Linux namespaces"
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from grader.jail import _probe_here; _probe_here()"],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"the isolation probe did not answer within {timeout:g} s"
    except OSError as exc:
        return f"the isolation probe could not start: {exc}"
    lines = done.stdout.strip().splitlines()
    if not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return f"the isolation probe failed: {tail[0]}"
    return lines[-1] if lines[-1] != "ok" else None


def _probe_here() -> None:
    """In a fresh, single-threaded interpreter: fork, enter a jail, say whether it held."""
    import json
    import tempfile

    root = tempfile.mkdtemp(prefix="grader-probe-")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            try:
                entered = enter(JailPolicy(), root)
                doc = {"ok": entered.layers, "pid": os.getpid()}
            except JailUnavailable as exc:
                doc = {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - any surprise is a refusal to report
                doc = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write, json.dumps(doc).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    try:
        os.rmdir(root)
    except OSError:
        pass
    try:
        doc = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        doc = {}
    if "ok" in doc and doc.get("pid") == 1:
        print("ok")
    else:
        print(doc.get("error") or "the isolation probe ended without an answer")


HOW_TO_ENABLE = (
    "grading needs Linux user, PID, mount and network namespaces, seccomp and pyseccomp: run as root, "
    "or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
    "user.max_user_namespaces>0); in Docker use --security-opt seccomp=unconfined or --privileged"
)
