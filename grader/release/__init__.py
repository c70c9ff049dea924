"""``grade release KIT_DIR``: a student kit with a recorded reference and no solution code.

:func:`build_kit` does the work; :func:`release_command` is its thin CLI.

1. **Copy** what students get: the grader package, ``exercises/`` (stubs, visible checks,
   each exercise's ``__init__``), ``data/``; write a ``pyproject.toml`` (no ``solutions``
   package, the same ``grade`` script and exercise entry points), a README for students
   and one notebook per exercise. A ``@pytest.mark.hidden`` check found in a visible check
   file is cut out of the copy.
2. **Record** the reference: grade the course, live, with the kit's own check files, on the
   solutions, on the stubs and on each known mistake as the student (so the reference
   calls that correct, unfinished and typically wrong submissions trigger are all there),
   through :class:`grader.replay.RecordingTransport`; save one recording per exercise.
3. **Verify**: install the kit into a fresh virtual environment that cannot see the
   course repository, grade the stubs (``grade all --json``: 0 points), the solutions
   copied outside the kit (``grade all --submission``: full marks) and the known mistakes,
   and compare every check's verdict and message with the live grading of step 2. Scan
   every file of the kit: no solution function or class body, no hidden check.

The environment: ``python -m venv --without-pip`` plus one ``.pth`` file that adds a
*shadow* of the running interpreter's site-packages: a folder of symlinks to every entry
except the course's own installation (its ``.dist-info``, its ``__editable__`` finder and
``.pth``, any ``.pth`` naming the course folder). Torch and the other dependencies are
reused offline; the course's editable finder, which would map ``grader``, ``exercises``
and ``solutions`` to the course repository, never loads. The kit is then installed with
``pip install --no-deps --no-build-isolation --no-index -e KIT_DIR`` (students install it
editable too: they edit ``exercises/``), and the release checks that ``grader`` and
``exercises`` import from the kit and ``import solutions`` fails.

The package, one module per job:

- :mod:`~grader.release.course`: the course's location, the default seed, the kit marker, :class:`ReleaseError`;
- :mod:`~grader.release.report`: :class:`KitReport` and :class:`PassCheck`;
- :mod:`~grader.release.kit`: choosing the exercises and writing the kit (step 1);
- :mod:`~grader.release.record`: recording the reference (step 2);
- :mod:`~grader.release.environment`: the kit's fresh venv;
- :mod:`~grader.release.verify`: grading in that venv and comparing with live grading (step 3);
- :mod:`~grader.release.scan`: hidden checks and solution bodies in source;
- :mod:`~grader.release.build`: :func:`build_kit`, the three steps in order;
- :mod:`~grader.release.cli`: :func:`release_command`.
"""

from __future__ import annotations

from grader.release.build import build_kit
from grader.release.cli import release_command
from grader.release.course import COURSE_ROOT, DEFAULT_SEED, KIT_MARKER, ReleaseError
from grader.release.environment import kit_env, make_kit_venv
from grader.release.kit import kit_pyproject, kit_readme
from grader.release.report import KitReport, PassCheck
from grader.release.scan import (
    code_bodies,
    hidden_checks_in,
    scan_for_leaks,
    strip_hidden_checks,
)
from grader.release.verify import compare_results

__all__ = [
    "COURSE_ROOT",
    "DEFAULT_SEED",
    "KIT_MARKER",
    "KitReport",
    "PassCheck",
    "ReleaseError",
    "build_kit",
    "code_bodies",
    "compare_results",
    "hidden_checks_in",
    "kit_env",
    "kit_pyproject",
    "kit_readme",
    "make_kit_venv",
    "release_command",
    "scan_for_leaks",
    "strip_hidden_checks",
]
