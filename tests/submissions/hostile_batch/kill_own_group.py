"""Signals its own process group and session (which may hold the process that started it),
kill(0), kill(-1), its parent and the pid its parent had; then dies by SIGKILL mid-call."""
# ---- the attack ----
def attack():
    for what, fn in (("kill 0 SIGCONT", lambda: os.kill(0, signal.SIGCONT)),
                     ("killpg own", lambda: os.killpg(os.getpgid(0), signal.SIGCONT)),
                     ("kill ppid", lambda: os.getppid() > 0 and os.kill(os.getppid(), signal.SIGSTOP)),
                     ("kill sid", lambda: os.getsid(0) > 0 and os.kill(os.getsid(0), signal.SIGSTOP)),
                     ("kill -1", lambda: os.kill(-1, signal.SIGSTOP))):
        _try(what, fn)
    _note("ids", (os.getpid(), os.getppid(), os.getpgid(0), os.getsid(0)))


def attack_in_call():
    attack()
    os.kill(0, signal.SIGKILL)


_try("attack at import", attack)
