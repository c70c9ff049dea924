"""The built-in course: one sub-package per exercise, each registered as a plugin.

Every exercise folder holds the stub students edit (``<module>.py``), its visible checks
(``test_<name>.py``) and an ``__init__.py`` that describes it with :func:`course_exercise`.
Reference solutions, known-mistake variants and hidden checks live in the top-level
``solutions`` package, which a student kit does not contain.
"""

from __future__ import annotations

from pathlib import Path

from grader.data import data_dir
from grader.spec import ExerciseSpec, Forbidden

EXERCISES_DIR = Path(__file__).resolve().parent
SOLUTIONS_DIR = EXERCISES_DIR.parent / "solutions"
# The course's one data folder setting lives in grader.data.data_dir() (GRADER_DATA_DIR moves
# it); this is its value when the course is imported, for exercises that need a path then.
DATA_DIR = data_dir()


def course_exercise(
    name: str,
    title: str,
    order: int,
    section: str,
    module: str | None = None,
    data: tuple[str, ...] = (),
    requires: tuple[str, ...] = (),
    forbidden: tuple[Forbidden, ...] = (),
    worker_imports: tuple[str, ...] = (),
    check_preloads: tuple[str, ...] = (),
) -> ExerciseSpec:
    module = module or name
    folder = EXERCISES_DIR / name
    return ExerciseSpec(
        name=name,
        title=title,
        order=order,
        module=module,
        stub=folder / f"{module}.py",
        checks=(folder / f"test_{name}.py",),
        solution=SOLUTIONS_DIR / f"{module}.py",
        mistakes=SOLUTIONS_DIR / f"{module}_mistakes.py",
        hidden_checks=(SOLUTIONS_DIR / "hidden" / f"test_{name}_hidden.py",),
        data=tuple(DATA_DIR / d for d in data),
        section=section,
        requires=requires,
        forbidden=forbidden,
        worker_imports=worker_imports,
        check_preloads=check_preloads,
    )
