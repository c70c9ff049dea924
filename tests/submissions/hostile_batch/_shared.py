"""What every hostile_batch submission starts with (tests/test_isolation.py puts it in front of
each attack): logging, evidence, profit, stub answers."""
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


