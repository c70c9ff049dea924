"""What goes in a student kit, and copying it there.

Choosing the exercises (those asked for and the ones they import), checking the target
folder, copying stubs and visible checks (hidden checks cut out), and writing the kit's
``pyproject.toml`` and README for students.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Iterable

from grader.release.course import COURSE_ROOT, KIT_MARKER, ReleaseError
from grader.release.report import KitReport
from grader.release.scan import strip_hidden_checks
from grader.spec import ExerciseSpec

COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "*.egg-info")


# --------------------------------------------------------------------------- choosing


def choose_exercises(names: list[str] | None) -> tuple[list[ExerciseSpec], list[ExerciseSpec]]:
    """(the exercises asked for, those plus the ones they import), in course order."""
    from grader.api import with_requirements
    from grader.registry import UnknownExercise, load_registry

    registry = load_registry()
    try:
        chosen = registry.select(names)
    except UnknownExercise as exc:
        raise ReleaseError(str(exc)) from None
    included = sorted(with_requirements(chosen, registry), key=lambda s: (s.order, s.name))
    exercises_dir = COURSE_ROOT / "exercises"
    for spec in included:
        if exercises_dir not in Path(spec.stub).resolve().parents:
            raise ReleaseError(f"{spec.name} is not part of this course's exercises/ package; a kit holds only those")
        missing = [what for what, path in (("stub", spec.stub), ("solution", spec.solution)) if not path or not Path(path).is_file()]
        missing += [f"check file {p.name}" for p in spec.checks if not p.is_file()]
        if missing:
            raise ReleaseError(
                f"exercise {spec.name} is not finished (no {', '.join(missing)}); leave it out with --exercises"
            )
    return chosen, included


def check_target(kit_dir: Path, force: bool) -> None:
    kit = kit_dir.resolve()
    if kit == COURSE_ROOT or kit in COURSE_ROOT.parents:
        raise ReleaseError(f"{kit_dir} holds the course itself; choose another folder for the kit")
    for inside in ("grader", "exercises", "solutions", "data", "tests"):
        if kit == COURSE_ROOT / inside or (COURSE_ROOT / inside) in kit.parents:
            raise ReleaseError(f"{kit_dir} is inside the course's {inside}/ folder; choose another folder")
    if kit.exists() and not kit.is_dir():
        raise ReleaseError(f"{kit_dir} exists and is not a folder")
    if kit.is_dir() and any(kit.iterdir()):
        if not force:
            raise ReleaseError(f"{kit_dir} is not empty; use --force to replace its contents")
        marker = kit / "pyproject.toml"
        if not (marker.is_file() and marker.read_text(errors="replace").startswith(KIT_MARKER)):
            # --force replaces an earlier kit, never a folder of something else.
            raise ReleaseError(f"{kit_dir} is not empty and is not a kit written by grade release; empty it yourself")
        for entry in kit.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


# --------------------------------------------------------------------------- writing the kit


def copy_exercise(spec: ExerciseSpec, kit_exercises: Path, report: KitReport) -> None:
    src = Path(spec.stub).parent
    dst = kit_exercises / src.name
    shutil.copytree(src, dst, ignore=COPY_IGNORE, dirs_exist_ok=True)
    for path in dst.rglob("*.py"):
        text = path.read_text()
        try:
            stripped, names = strip_hidden_checks(text)
        except SyntaxError as exc:
            # Hidden checks in it could not be cut out: the release is not finished, say why.
            report.problems.append(f"{spec.name}: {path.name}, line {exc.lineno}: does not parse ({exc.msg})")
            continue
        if names:
            path.write_text(stripped)
            report.stripped_hidden += [f"{spec.name}:{n}" for n in names]


def kit_spec(spec: ExerciseSpec, kit_dir: Path) -> ExerciseSpec:
    """The spec as the kit sees it (its stub and checks), still pointing at the course's solution."""

    def moved(path: Path) -> Path:
        return kit_dir / Path(path).resolve().relative_to(COURSE_ROOT)

    return dataclasses.replace(spec, stub=moved(spec.stub), checks=tuple(moved(p) for p in spec.checks))


_kit_spec = kit_spec  # the old name, still imported by tests/test_secret_seed.py


def _toml_list(values: Iterable[str]) -> str:
    items = [json.dumps(v) for v in values]
    return "[\n" + "".join(f"    {v},\n" for v in items) + "]" if items else "[]"


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement.strip().lower()


def _course_pyproject() -> dict:
    import tomllib

    try:
        return tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReleaseError(f"cannot read the course's pyproject.toml: {exc}") from None


def kit_dependencies(course: dict) -> tuple[list[str], dict[str, list[str]]]:
    """(dependencies, extras) of a kit: the course's, less ``[tool.grader.kit] instructor-only``
    (libraries only instructor commands use), with the extras ``[tool.grader.kit] extras`` names."""
    project = course.get("project", {})
    settings = course.get("tool", {}).get("grader", {}).get("kit", {})
    dropped = {_requirement_name(n) for n in settings.get("instructor-only", [])}
    deps = [d for d in project.get("dependencies", []) if _requirement_name(d) not in dropped]
    optional = project.get("optional-dependencies", {})
    missing = [e for e in settings.get("extras", []) if e not in optional]
    if missing:
        raise ReleaseError(f"[tool.grader.kit] extras names {', '.join(missing)}, not in [project.optional-dependencies]")
    extras = {e: [d for d in optional[e] if _requirement_name(d) not in dropped] for e in settings.get("extras", [])}
    return deps, extras


def _grader_packages() -> list[str]:
    """The grader's packages (each folder with an ``__init__.py``), all copied into a kit. The
    course finds its packages by pattern; a kit names them, as it ships only some exercises."""
    inits = (COURSE_ROOT / "grader").rglob("__init__.py")
    return sorted(".".join(p.parent.relative_to(COURSE_ROOT).parts) for p in inits if "__pycache__" not in p.parts)


def kit_pyproject(included: list[ExerciseSpec]) -> str:
    """The kit's pyproject.toml: the course's metadata minus solutions, tests, dev extras and
    instructor-only dependencies; the extras students may want (``.[notebook]``)."""
    from importlib.metadata import entry_points

    course = _course_pyproject()
    project = course.get("project", {})
    deps, extras = kit_dependencies(course)
    names = {s.name for s in included}
    eps = {ep.name: ep.value for ep in entry_points(group="grader.exercises") if ep.name in names}
    for spec in included:
        eps.setdefault(spec.name, f"exercises.{Path(spec.stub).parent.name}:EXERCISE")
    packages = _grader_packages() + ["exercises"] + [f"exercises.{Path(s.stub).parent.name}" for s in included]
    grader_data = course.get("tool", {}).get("setuptools", {}).get("package-data", {}).get("grader", ["*.ini"])
    scripts = project.get("scripts", {"grade": "grader.cli:main"})
    text = [
        KIT_MARKER + ": the grader, the exercises and a recorded reference.",
        "[build-system]",
        'requires = ["setuptools>=68"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {json.dumps(project.get('name', 'transformer-course-grader'))}",
        f"version = {json.dumps(project.get('version', '0.1.0'))}",
        f"description = {json.dumps('Student kit: ' + project.get('description', 'course exercises and their grader'))}",
        'readme = "README.md"',
        f"requires-python = {json.dumps(project.get('requires-python', '>=3.10'))}",
        f"dependencies = {_toml_list(deps)}",
        "",
        *(["[project.optional-dependencies]", *[f"{k} = {_toml_list(v)}" for k, v in extras.items()], ""] if extras else []),
        "[project.scripts]",
        *[f"{k} = {json.dumps(v)}" for k, v in scripts.items()],
        "",
        '[project.entry-points."grader.exercises"]',
        *[f"{s.name} = {json.dumps(eps[s.name])}" for s in included],
        "",
        "[tool.setuptools]",
        f"packages = {_toml_list(packages)}",
        "",
        "[tool.setuptools.package-data]",
        f"grader = {json.dumps(list(grader_data))}",
        'exercises = ["*/*.reference.json", "*/*.reference.bin"]',
        "",
    ]
    return "\n".join(text)


def points_checked(spec: ExerciseSpec) -> tuple[float, int, float, int]:
    """(points, checks) a kit can run for ``spec``, then (points, checks) only the instructor's
    grading runs: hidden check files and ``@pytest.mark.hidden`` checks in visible ones."""
    from grader.api import static_checks

    checks = static_checks(spec, include_hidden=True)
    shown = [c for c in checks if not c.hidden]
    hidden = [c for c in checks if c.hidden]
    return sum(c.points for c in shown), len(shown), sum(c.points for c in hidden), len(hidden)


def _exercise_rows(included: list[ExerciseSpec]) -> tuple[list[str], tuple[float, int, float, int]]:
    """The README's table of exercises (one Markdown row each, then the totals) and the totals:
    visible points and checks, hidden points and checks."""
    rows = []
    totals = [0.0, 0, 0.0, 0]
    for spec in included:
        here, n_here, hidden, n_hidden = points_checked(spec)
        totals = [totals[0] + here, totals[1] + n_here, totals[2] + hidden, totals[3] + n_hidden]
        folder = Path(spec.stub).parent.name
        rows.append(
            f"| {spec.order} | `{spec.name}` | {spec.title} | `exercises/{folder}/{Path(spec.stub).name}` "
            f"| `notebooks/{spec.name}.ipynb` | {here:g} ({n_here} checks) | {hidden:g} ({n_hidden} checks) "
            f"| {here + hidden:g} |"
        )
    here, n_here, hidden, n_hidden = totals
    rows.append(f"| | **all** | | | | **{here:g}** ({n_here} checks) | **{hidden:g}** ({n_hidden} checks) | **{here + hidden:g}** |")
    return rows, (here, n_here, hidden, n_hidden)


def _command_lines(included: list[ExerciseSpec]) -> str:
    """The README's commands, each with what it does, on the first exercise."""
    first = included[0].name
    stub_path = f"exercises/{Path(included[0].stub).parent.name}/{Path(included[0].stub).name}"
    pairs = [
        ("grade list", "exercises, checks and points"),
        (f"grade exercise {first}", f"grades {stub_path}"),
        (f"grade exercise {first} --watch", "grades it again each time you save it (Ctrl-C stops)"),
        (f"grade exercise {first} --submission my.py", "a file (or a folder) of your own"),
        (f"grade exercise {first} --submission notebooks/{first}.ipynb", "a notebook"),
        ("grade all", "every exercise, one summary"),
        (f"grade exercise {first} --json", "one JSON document on stdout"),
    ]
    width = max(len(c) for c, _ in pairs) + 2
    return "\n".join(f"    {c.ljust(width)}# {why}" for c, why in pairs)


def kit_readme(included: list[ExerciseSpec], seeds: list[int]) -> str:
    course = _course_pyproject()
    python = course.get("project", {}).get("requires-python", ">=3.10")
    _, extras = kit_dependencies(course)
    rows, (here, n_here, hidden, n_hidden) = _exercise_rows(included)
    commands = _command_lines(included)
    notebook_install = (
        '    pip install -e ".[notebook]"   # the same, plus Jupyter, to work in the notebooks\n' if "notebook" in extras else ""
    )
    jupyter = (
        'Jupyter is not installed by `pip install -e .`: `pip install -e ".[notebook]"` adds it, and\n'
        "`jupyter notebook notebooks/` opens the notebooks.\n" if "notebook" in extras else
        "Jupyter is not part of this kit's dependencies: install it yourself to use them.\n"
    )
    other_seeds = [s for s in seeds if s != 0]
    seed_text = (
        f"`--seed {', '.join(map(str, other_seeds))}` grades on the inputs recorded for that seed; `grade` refuses any other seed."
        if other_seeds else "`grade` grades with the inputs recorded when the kit was built, and refuses any other `--seed`."
    )
    return f"""# Transformers from scratch — student kit

You write the core of a transformer in PyTorch, one exercise at a time; the `grade`
command runs the checks of this kit, in seconds, and says what is wrong. What it does and
does not check is under *What is checked here* below.

## Set-up (once)

You need Python {python.replace(">=", ">= ")} (`python3 --version` says which you have). In this folder:

    python3 -m venv .venv          # a virtual environment of the course's own
    source .venv/bin/activate      # Windows: .venv\\Scripts\\activate (again in each new terminal)
    pip install torch --index-url https://download.pytorch.org/whl/cpu
    pip install -e .               # the kit, editable (you edit exercises/): installs `grade`
{notebook_install}
The exercises need no GPU. The `--index-url` line is PyTorch's standard way to get its
small CPU-only build (about 200 MB). A plain `pip install torch` on Linux pulls the CUDA
build instead, with several GB of NVIDIA libraries; take it only if you have an NVIDIA GPU
and want `--device cuda`. (On macOS and Windows a plain `pip install torch` is already a
CPU build.) Other builds: <https://pytorch.org/get-started/locally/>.

## The exercises

| # | name | title | your file | or this notebook | points checked here | points in hidden checks | points in all |
|---|------|-------|-----------|------------------|--------------------:|------------------------:|--------------:|
{chr(10).join(rows)}

Each exercise is one file to fill in; its docstring is the handout (task, shapes,
conventions, the course section it follows). Keep the names and signatures as given.

## Grading your work

{commands}

Exit codes: 0 every check passed, 1 some check failed, 2 a usage error.

## Notebooks

`notebooks/` holds one Jupyter notebook per exercise: the handout, a code cell tagged for
grading (write your solution there), and a last cell that runs the checks on the saved
notebook. Only the tagged cell is graded; a notebook without tagged cells is graded on
all its code cells, without `!shell` and `%magic` lines. `grade notebook NAME --out
PATH` writes a fresh one.
{jupyter}
## What is checked here, and what is not

Your instructor grades the course out of {here + hidden:g} points: **{here:g} come from the {n_here}
checks in this kit**, which `grade` runs here, and **{hidden:g} from {n_hidden} hidden checks** that are
not in the kit and that you cannot run (the table above gives the split per exercise).
Hidden checks test the same handout on cases you are not shown. Your instructor's grader
also draws the checks' inputs from its own secret seed: the checks of this kit run there
on other numbers. So:

- a check of this kit gives, for the inputs used here, the verdict and message your
  instructor's grader gives for them (the kit was verified check by check against it);
- full marks here means every visible check passed, not that the hidden checks will: code
  that does what the handout says passes both, code tuned to this kit's inputs does not.

## How the checks know the right answer

This kit holds no solution code. When it was built, every check was run against the
reference solutions and each answer the reference gave was recorded (the
`*.reference.json`/`.bin` files beside the stubs); here the checks replay those answers.
If a check says *this student kit is out of date*, the check asked the reference something
that was never recorded: get a fresh kit (and do not edit the `test_*.py` files).
{seed_text}
"""


def clean_kit(kit_dir: Path) -> None:
    """Remove what installing and running the kit left in it (bytecode, egg-info)."""
    for path in list(kit_dir.rglob("__pycache__")) + list(kit_dir.glob("*.egg-info")):
        shutil.rmtree(path, ignore_errors=True)
