"""Forks 400 processes and starts 400 threads that all stay alive, at import and again from
inside a call: the grader must cap them and nothing may outlive the job."""
# ---- the attack ----
import threading


def attack():
    children = 0
    for i in range(400):
        try:
            pid = os.fork()
        except OSError as exc:
            _note(f"fork #{i}", exc.strerror)
            break
        if pid == 0:
            _LIBC.prctl(15, b"hbx-bomb", 0, 0, 0)
            time.sleep(300)
            os._exit(0)
        children += 1
    threads = 0
    for i in range(400):
        try:
            threading.Thread(target=time.sleep, args=(300,), daemon=True).start()
            threads += 1
        except RuntimeError as exc:
            _note(f"thread #{i}", str(exc))
            break
    _note("forks", children)
    _note("threads", threads)


_try("attack at import", attack)
attack_in_call = attack
