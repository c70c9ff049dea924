"""``grade gradescope OUT.zip``: the autograder bundle Gradescope runs, built from the course.

Gradescope unzips the bundle into ``/autograder/source``, runs ``setup.sh`` once to build
its image, then ``run_autograder`` once per submission (as root, in Docker), which must
leave ``/autograder/results/results.json``. The bundle holds, at its top level:

- ``setup.sh``: installs the CPU build of torch (skipped when torch imports already; from
  ``wheels/`` with ``--no-index`` when the bundle ships wheels) and the kit, editable;
- ``run_autograder``: runs :mod:`grader.release.gradescope_autograder` (``python -I``),
  and writes a score-0 results.json itself should that die without writing one;
- ``kit/``: a kit written by :func:`grader.release.build.build_kit` with
  ``private_bundle_seed``: no solution code (scanned), the hidden checks, and the
  reference recorded for one grading seed drawn now from the grading secret
  (``HMAC(secret, "gradescope:" + nonce)``, outside the seeds any student kit records);
- ``gradescope_bundle.json``: the exercises graded, that seed, the isolation asked for.

Isolation: a bundle requires the jail (grader/jail.py) by default, as ``grade batch``
does; where Gradescope's container refuses it, every submission gets 0 with the reason.
``isolation="off"`` (``--no-sandbox``) grades there anyway and says so in each result.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.release.build import build_kit, leaks
from grader.release.course import ReleaseError
from grader.release.gradescope_autograder import CONFIG_NAME
from grader.release.report import KitReport
from grader.sandbox import OFF, REQUIRED

KIT_FOLDER = "kit"
WHEELS_FOLDER = "wheels"
SCHEMA = 1

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
# Written by `grade gradescope`: installs the CPU build of torch and the course kit in kit/
# (no solution code; the reference is a recording). Offline when the bundle ships wheels/.
#   GRADESCOPE_PYTHON      the Python to install into (default: python3)
#   GRADESCOPE_SKIP_TORCH  1: do not install torch (it is provided otherwise)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${GRADESCOPE_PYTHON:-python3}"
# Gradescope's image is a container of its own: a system-wide install is what it expects.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PIP=("$PYTHON" -m pip install --no-input)
OFFLINE=()
if compgen -G "$HERE/wheels/*.whl" >/dev/null; then
    OFFLINE=(--no-index --find-links "$HERE/wheels")
fi
if [ "${GRADESCOPE_SKIP_TORCH:-0}" = 1 ] || "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "setup.sh: torch is already there (or GRADESCOPE_SKIP_TORCH=1): not installing it"
elif [ ${#OFFLINE[@]} -gt 0 ]; then
    "${PIP[@]}" "${OFFLINE[@]}" torch
else
    "${PIP[@]}" torch --index-url https://download.pytorch.org/whl/cpu
fi
BUILD=()
# A setuptools that builds the kit (its pyproject asks for >= 68) is used as it is; an older
# one (Ubuntu's) is not, and pip fetches a build backend (from wheels/ when offline).
if "$PYTHON" -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 68)" >/dev/null 2>&1; then
    BUILD=(--no-build-isolation)
fi
"${PIP[@]}" "${OFFLINE[@]}" "${BUILD[@]}" -e "$HERE/kit"
"$PYTHON" -I -c "import grader, exercises; print('setup.sh: the course kit is installed')"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, as root. Written by `grade gradescope`.
# Grades $ROOT/submission and writes $ROOT/results/results.json (ROOT: GRADESCOPE_ROOT,
# default /autograder). The grader writes results.json itself, after grading, from its own
# data; should it die without doing so, this script writes a score-0 result with the reason.
ROOT="${GRADESCOPE_ROOT:-/autograder}"
export GRADESCOPE_ROOT="$ROOT"
PYTHON="${GRADESCOPE_PYTHON:-python3}"
mkdir -p "$ROOT/results"
cd "$ROOT/source" || cd /
# -I: neither the working folder nor PYTHON* variables decide what Python imports.
"$PYTHON" -I -m grader.release.gradescope_autograder
rc=$?
if [ $rc -ne 0 ]; then
    rm -f "$ROOT/results/results.json.tmp"
    printf '{"score": 0, "output": "The autograder itself failed (exit code %d); your submission was not graded. Tell your instructor.", "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}\\n' "$rc" > "$ROOT/results/results.json.tmp"
    mv -f "$ROOT/results/results.json.tmp" "$ROOT/results/results.json"
fi
exit 0
"""


@dataclass
class BundleReport:
    """What :func:`build_bundle` made, and what stopped it."""

    zip_path: Path
    exercises: list[str]
    seed: int = 0
    isolation: str = REQUIRED
    kit: KitReport | None = None
    problems: list[str] = field(default_factory=list)
    files: int = 0
    zip_bytes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and (self.kit is None or self.kit.ok)

    def lines(self) -> list[str]:
        out = list(self.kit.lines()) if self.kit and not self.kit.ok else []
        out += [f"problem: {p}" for p in self.problems]
        if self.ok:
            out.append(
                f"bundle ready: {self.zip_path} ({self.zip_bytes / 1024**2:.1f} MB, {self.files} files, "
                f"{self.seconds:.0f} s): {', '.join(self.exercises)}; hidden checks included; reference recorded "
                f"for a grading seed no student kit holds; no solution code"
            )
            out.append(
                "isolation: required (a container that refuses the jail gives every submission 0, with the reason)"
                if self.isolation == REQUIRED
                else "isolation: off (--no-sandbox): submissions run unjailed, as root, and every result says so"
            )
        return out


def _choose_seed(names: list[str] | None) -> tuple[list[str], int, str]:
    """(exercises graded, the bundle's grading seed, its nonce): HMAC(secret, "gradescope:" + nonce)."""
    from grader.registry import UnknownExercise, load_registry
    from grader.secret import SecretUnavailable, derive_seed, grading_secret

    registry = load_registry()
    try:
        specs = registry.select(names)
        secret = grading_secret(specs)
    except (UnknownExercise, SecretUnavailable) as exc:
        raise ReleaseError(str(exc)) from None
    nonce = secrets.token_hex(8)
    return [s.name for s in specs], derive_seed(secret, f"gradescope:{nonce}"), nonce


def _check_out(out_zip: Path, force: bool) -> Path:
    out_zip = Path(out_zip).absolute()
    if out_zip.suffix.lower() != ".zip":
        raise ReleaseError(f"{out_zip.name}: Gradescope takes the autograder as a .zip; name it OUT.zip")
    if out_zip.is_dir():
        raise ReleaseError(f"{out_zip} is a folder")
    if out_zip.exists() and not force:
        raise ReleaseError(f"{out_zip} exists; use --force to replace it")
    if not out_zip.parent.is_dir():
        raise ReleaseError(f"{out_zip.parent} does not exist")
    return out_zip


def _write_zip(staging: Path, out_zip: Path) -> int:
    """Zip ``staging`` (scripts executable, as Gradescope needs); written beside, then moved in place."""
    tmp = out_zip.with_name(f".{out_zip.name}.partial")
    count = 0
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(staging.rglob("*")):
            if not path.is_file() or ".egg-info" in path.as_posix():
                continue
            rel = path.relative_to(staging).as_posix()
            info = zipfile.ZipInfo(rel, date_time=time.localtime(path.stat().st_mtime)[:6])
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            count += 1
    os.replace(tmp, out_zip)
    return count


def build_bundle(
    out_zip: Path,
    exercises: list[str] | None = None,
    force: bool = False,
    isolation: str = REQUIRED,
    mistakes: int | None = None,
    wheels: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BundleReport:
    """Write Gradescope's autograder bundle for ``exercises`` (default: all) to ``out_zip``.

    ``isolation``: ``required`` (default) or ``off`` (grade where the jail is refused, and
    say so in every result). ``mistakes``: record only the first N known mistakes of each
    exercise (wrong submissions beyond them may meet an unrecorded reference request, which
    fails that check, never passes it). ``wheels``: a folder of ``.whl`` files shipped in
    the bundle, so ``setup.sh`` installs offline. Raises :class:`ReleaseError` for bad arguments.
    """
    start = time.monotonic()
    if isolation not in (REQUIRED, OFF):
        raise ReleaseError(f"isolation {isolation!r}: a bundle either requires the jail or runs without it ('off')")
    out_zip = _check_out(out_zip, force)
    wheel_files = []
    if wheels is not None:
        wheel_files = sorted(Path(wheels).glob("*.whl"))
        if not wheel_files:
            raise ReleaseError(f"{wheels}: no .whl files there")
    names, seed, nonce = _choose_seed(exercises)
    report = BundleReport(out_zip, names, seed, isolation)
    staging = Path(tempfile.mkdtemp(prefix="grade-gradescope-"))
    try:
        report.kit = build_kit(staging / KIT_FOLDER, names, mistakes=mistakes, progress=progress,
                               private_bundle_seed=seed)  # fmt: skip
        if not report.kit.ok:
            return report
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            (staging / name).write_text(text)
            (staging / name).chmod(0o755)
        config = {"schema": SCHEMA, "exercises": names, "seed": seed, "nonce": nonce, "isolation": isolation}
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        if wheel_files:
            (staging / WHEELS_FOLDER).mkdir()
            for wheel in wheel_files:
                shutil.copyfile(wheel, staging / WHEELS_FOLDER / wheel.name)
        # The proof, on the whole bundle: no solution body or text anywhere in it.
        kit = staging / KIT_FOLDER
        hidden = [p.relative_to(kit).as_posix() for p in (kit / "solutions").rglob("test_*_hidden.py")]
        problems, _ = leaks(staging, hidden)
        report.problems += problems
        if report.problems:
            return report
        report.files = _write_zip(staging, out_zip)
        report.zip_bytes = out_zip.stat().st_size
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        report.seconds = time.monotonic() - start
    return report


__all__ = ["CONFIG_NAME", "BundleReport", "build_bundle"]
