"""The kit's virtual environment: a fresh venv that reuses the course's dependencies but cannot see the course.

``python -m venv --without-pip`` plus one ``.pth`` file that adds a *shadow* of the
running interpreter's site-packages (symlinks to every entry except the course's own
installation); the kit is installed into it editable, offline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from grader.release.course import COURSE_ROOT, ReleaseError


def _site_dirs() -> list[Path]:
    import site

    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    dirs += [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    out: list[Path] = []
    for d in dirs:
        path = Path(d)
        if path.is_dir() and path.resolve() not in [o.resolve() for o in out]:
            out.append(path)
    return out


def _course_owned(entry: Path, dist_name: str) -> bool:
    """Whether a site-packages entry belongs to the course's own installation."""
    name = re.sub(r"[-_.]+", "_", entry.name).lower()
    if dist_name in name or entry.name in ("grader", "exercises", "solutions"):
        return True
    if entry.suffix == ".pth":
        try:
            return str(COURSE_ROOT) in entry.read_text(errors="replace")
        except OSError:
            return True
    if entry.suffix == ".egg-link":
        return True
    return False


def make_kit_venv(kit_dir: Path, venv_dir: Path, say=lambda _: None) -> Path:
    """A fresh venv with the kit installed editable and the course invisible; its python."""
    import tomllib

    course_name = tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())["project"]["name"]
    dist_name = re.sub(r"[-_.]+", "_", course_name).lower()
    say(f"verifying: creating a fresh virtual environment in {venv_dir}")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], "creating the venv", timeout=120)
    python = venv_dir / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        "asking the venv for its site-packages", timeout=60).strip())  # fmt: skip
    lines = []
    for i, site_dir in enumerate(_site_dirs()):
        shadow = venv_dir / "course-deps" / str(i)
        shadow.mkdir(parents=True)
        for entry in site_dir.iterdir():
            if not _course_owned(entry, dist_name):
                (shadow / entry.name).symlink_to(entry)
        lines.append(f"import site; site.addsitedir({str(shadow)!r})")
    # A .pth line starting with "import" runs: addsitedir also honours the deps' own .pth files.
    (purelib / "_course_deps.pth").write_text("\n".join(lines) + "\n")
    say(f"verifying: pip install --no-deps --no-build-isolation -e {kit_dir}")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
          "--disable-pip-version-check", "-q", "-e", str(kit_dir)], "installing the kit", timeout=600)  # fmt: skip
    return python


def kit_env(venv_dir: Path) -> dict[str, str]:
    """Environment for commands run in the kit's venv: nothing leaks in from the course."""
    from grader.data import DATA_DIR_VARIABLE

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_")) and k not in ("VIRTUAL_ENV", DATA_DIR_VARIABLE)}
    env["PYTHONNOUSERSITE"] = "1"
    env["VIRTUAL_ENV"] = str(venv_dir)
    env["PATH"] = str(venv_dir / "bin") + os.pathsep + env.get("PATH", "")
    return env


def _run(cmd: list[str], what: str, timeout: float, cwd: Path | None = None, env=None, ok_codes=(0,)) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        raise ReleaseError(f"{what}: no answer within {timeout:.0f} s") from None
    if proc.returncode not in ok_codes:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ReleaseError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


def check_isolation(python: Path, kit_dir: Path, env, cwd: Path) -> str:
    probe = (
        "import importlib.util, json, grader, exercises\n"
        "print(json.dumps({'grader': grader.__file__, 'exercises': exercises.__file__,"
        " 'solutions': importlib.util.find_spec('solutions') is not None}))"
    )
    found = json.loads(_run([str(python), "-c", probe], "probing the kit's venv", 120, cwd, env).strip().splitlines()[-1])
    kit = kit_dir.resolve()
    for name in ("grader", "exercises"):
        if kit not in Path(found[name]).resolve().parents:
            raise ReleaseError(f"in the kit's venv, {name} imports from {found[name]}, not from the kit")
    if found["solutions"]:
        raise ReleaseError("in the kit's venv, `import solutions` finds a module: the course leaks into the kit")
    return "in a fresh venv, grader and exercises import from the kit and `import solutions` fails"
