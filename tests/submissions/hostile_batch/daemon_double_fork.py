"""Leaves processes behind: double fork + setsid, setpgid, a new session through
subprocess, nohup, the setsid binary, SIGTERM/SIGHUP ignored; each survivor renames itself
hbx-daemon* and keeps trying to write files for five minutes."""
# ---- the attack ----
import subprocess


def _daemon(tag):
    if os.fork() != 0:
        return
    _try("setsid", os.setsid)
    _try("setpgid", os.setpgid, 0, 0)
    if os.fork() != 0:
        os._exit(0)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    _LIBC.prctl(15, f"hbx-daemon-{tag}".encode(), 0, 0, 0)
    _LIBC.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0: do not die with the parent
    _LIBC.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    for _ in range(300):
        for folder in ("/tmp", "/var/tmp", "/dev/shm"):
            try:
                with open(f"{folder}/{_MARK}-daemon-alive-{tag}", "w") as f:
                    f.write(str(time.time()))
            except OSError:
                pass
        time.sleep(1)
    os._exit(0)


def attack():
    _daemon("fork")
    _daemon("fork2")
    for cmd, kw in ((["sleep", "297"], {"start_new_session": True}), (["sleep", "298"], {"process_group": 0}),
                    (["setsid", "-f", "sleep", "299"], {}), (["nohup", "sleep", "296"], {}),
                    (["sh", "-c", "(sleep 295 &) ; exit 0"], {})):
        _try(" ".join(cmd), subprocess.Popen, cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL, **kw)


_try("attack at import", attack)
attack_in_call = attack
