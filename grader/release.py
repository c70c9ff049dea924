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
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import click

from grader.spec import ExerciseSpec

COURSE_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 0
KIT_MARKER = "# A student kit written by `grade release`"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "*.egg-info")


class ReleaseError(Exception):
    """The kit cannot be built (bad arguments, unfinished exercise, course not present)."""


@dataclass
class PassCheck:
    """One grading pass compared between live grading and the kit."""

    label: str  # "the stubs", "the solutions", "known mistake 'no max subtraction...'"
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # exercise -> (score, max) in the kit
    checks: int = 0  # checks compared
    mismatches: list[str] = field(default_factory=list)


@dataclass
class KitReport:
    """What :func:`build_kit` wrote and verified."""

    kit_dir: Path
    exercises: list[str]
    seeds: list[int]
    files: int = 0
    notebooks: list[Path] = field(default_factory=list)
    recorded_calls: dict[str, int] = field(default_factory=dict)
    recording_bytes: int = 0
    stripped_hidden: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # exercises whose solution fails or stub scores, live
    passes: list[PassCheck] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # one line per thing verified
    problems: list[str] = field(default_factory=list)
    verify: bool = True
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        calls = sum(self.recorded_calls.values())
        out = [
            f"kit: {self.kit_dir} ({self.files} files; exercises {', '.join(self.exercises)})",
            f"recorded reference: {calls} replies ({self.recording_bytes / 1024:.0f} KiB) for --seed "
            f"{', '.join(map(str, self.seeds))}",
        ]
        if self.stripped_hidden:
            out.append(f"hidden checks cut from visible check files: {', '.join(self.stripped_hidden)}")
        out += [f"verified: {line}" for line in self.verified]
        if not self.verify:
            out.append("not verified in a fresh environment (--no-verify)")
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append(f"{'kit ready' if self.ok else 'kit FAILED verification'} ({self.seconds:.0f} s)")
        return out


# --------------------------------------------------------------------------- choosing


def _choose(names: list[str] | None) -> tuple[list[ExerciseSpec], list[ExerciseSpec]]:
    """(the exercises asked for, those plus the ones they import), in course order."""
    from grader.api import with_requirements
    from grader.registry import UnknownExercise, load_registry

    registry = load_registry()
    try:
        chosen = [registry.get(n) for n in names] if names else registry.ordered()
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


def _check_target(kit_dir: Path, force: bool) -> None:
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


# --------------------------------------------------------------------------- hidden checks


def _is_hidden_marker(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target).endswith("mark.hidden")


def hidden_checks_in(tree: ast.Module) -> list[ast.AST]:
    """Top-level checks marked hidden, and a module-wide ``pytestmark`` naming hidden."""
    found: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if any(_is_hidden_marker(d) for d in node.decorator_list):
                found.append(node)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            if "mark.hidden" in ast.unparse(node.value):
                found.append(node)
    return found


def strip_hidden_checks(source: str) -> tuple[str, list[str]]:
    """``source`` without its hidden checks; the names cut out."""
    tree = ast.parse(source)
    hidden = hidden_checks_in(tree)
    if not hidden:
        return source, []
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    names = []
    for node in hidden:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        drop.update(range(first - 1, node.end_lineno))
        names.append(getattr(node, "name", "pytestmark"))
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    return re.sub(r"\n{4,}", "\n\n\n", kept), names


# --------------------------------------------------------------------------- writing the kit


def _copy_exercise(spec: ExerciseSpec, kit_exercises: Path, report: KitReport) -> None:
    src = Path(spec.stub).parent
    dst = kit_exercises / src.name
    shutil.copytree(src, dst, ignore=_IGNORE, dirs_exist_ok=True)
    for path in dst.rglob("*.py"):
        text = path.read_text()
        try:
            stripped, names = strip_hidden_checks(text)
        except SyntaxError:
            continue
        if names:
            path.write_text(stripped)
            report.stripped_hidden += [f"{spec.name}:{n}" for n in names]


def _kit_spec(spec: ExerciseSpec, kit_dir: Path) -> ExerciseSpec:
    """The spec as the kit sees it (its stub and checks), still pointing at the course's solution."""

    def moved(path: Path) -> Path:
        return kit_dir / Path(path).resolve().relative_to(COURSE_ROOT)

    return dataclasses.replace(spec, stub=moved(spec.stub), checks=tuple(moved(p) for p in spec.checks))


def _toml_list(values: Iterable[str]) -> str:
    items = [json.dumps(v) for v in values]
    return "[\n" + "".join(f"    {v},\n" for v in items) + "]" if items else "[]"


def kit_pyproject(included: list[ExerciseSpec]) -> str:
    """The kit's pyproject.toml: the course's metadata minus solutions, tests and dev extras."""
    import tomllib
    from importlib.metadata import entry_points

    try:
        course = tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReleaseError(f"cannot read the course's pyproject.toml: {exc}") from None
    project = course.get("project", {})
    names = {s.name for s in included}
    eps = {ep.name: ep.value for ep in entry_points(group="grader.exercises") if ep.name in names}
    for spec in included:
        eps.setdefault(spec.name, f"exercises.{Path(spec.stub).parent.name}:EXERCISE")
    packages = [p for p in course.get("tool", {}).get("setuptools", {}).get("packages", []) if p.split(".")[0] == "grader"]
    packages = packages or ["grader"]
    packages += ["exercises"] + [f"exercises.{Path(s.stub).parent.name}" for s in included]
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
        f"dependencies = {_toml_list(project.get('dependencies', []))}",
        "",
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
        'exercises = ["*/*.md", "*/*.reference.json", "*/*.reference.bin"]',
        "",
    ]
    return "\n".join(text)


def kit_readme(included: list[ExerciseSpec], seeds: list[int]) -> str:
    from grader.api import static_checks

    rows = []
    for spec in included:
        points = sum(c.points for c in static_checks(spec))
        folder = Path(spec.stub).parent.name
        rows.append(
            f"| {spec.order} | `{spec.name}` | {spec.title} | `exercises/{folder}/{Path(spec.stub).name}` "
            f"| `notebooks/{spec.name}.ipynb` | {points:g} |"
        )
    first = included[0].name
    seed_text = ", ".join(map(str, seeds))
    pairs = [
        ("grade list", "exercises, checks and points"),
        (f"grade exercise {first}", f"grades exercises/{Path(included[0].stub).parent.name}/{Path(included[0].stub).name}"),
        (f"grade exercise {first} --submission my.py", "a file (or a folder) of your own"),
        (f"grade exercise {first} --submission notebooks/{first}.ipynb", "a notebook"),
        ("grade all", "every exercise, one summary"),
        (f"grade exercise {first} --json", "one JSON document on stdout"),
    ]
    width = max(len(c) for c, _ in pairs) + 2
    commands = "\n".join(f"    {c.ljust(width)}# {why}" for c, why in pairs)
    return f"""# Transformers from scratch — student kit

You write the core of a transformer in PyTorch, one exercise at a time; the `grade`
command runs the same checks your instructor will, in seconds, and says what is wrong.

## Set-up (once)

    pip install torch          # CPU is enough; see pytorch.org for other builds
    pip install -e .           # in this folder: installs the `grade` command

## The exercises

| # | name | title | your file | or this notebook | points |
|---|------|-------|-----------|------------------|--------|
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

## How the checks know the right answer

This kit holds no solution code. When it was built, every check was run against the
reference solutions and each answer the reference gave was recorded (the
`*.reference.json`/`.bin` files beside the stubs); here the checks replay those answers.
Your verdicts are the ones your instructor's grader gives. If a check says *this
student kit is out of date*, the check asked the reference something that was never
recorded: get a fresh kit (and do not edit the `test_*.py` files). The recording is for
`--seed {seed_text}`, the default; other seeds need a kit built with them.
"""


# --------------------------------------------------------------------------- recording


@dataclass
class _Pass:
    label: str
    seed: int
    specs: list[ExerciseSpec]
    submission_dir: Path | None  # None: the stubs
    mistake: dict[str, str] = field(default_factory=dict)  # exercise -> mistake name


_WRAPPER = '''"""Known mistake {mistake!r} of the {module} reference, as a submission (written by grade release)."""

import importlib.util as _util
import sys as _sys
from pathlib import Path as _Path


def _load(name):
    spec = _util.spec_from_file_location(name, _Path(__file__).with_name(name + ".py"))
    module = _util.module_from_spec(spec)
    # Registered before it runs: a dataclass looks its module up in sys.modules.
    _sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


globals().update({{k: v for k, v in vars(_load("_reference_{module}")).items() if not k.startswith("__")}})
globals().update(_load("_mistakes_{module}").MISTAKES[{mistake!r}])
'''


def _solutions_folder(included: list[ExerciseSpec], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for spec in included:
        shutil.copyfile(spec.solution, folder / f"{spec.module}.py")
    return folder


def _mistake_folder(k: int, names: dict[str, list[str]], included: list[ExerciseSpec], folder: Path) -> tuple[Path, dict[str, str]]:
    """A submission folder: mistake number ``k`` of each exercise that has one, solutions elsewhere."""
    _solutions_folder(included, folder)
    chosen = {}
    for spec in included:
        mistakes = names.get(spec.name) or []
        if k < len(mistakes) and spec.mistakes and Path(spec.mistakes).is_file():
            shutil.copyfile(spec.solution, folder / f"_reference_{spec.module}.py")
            shutil.copyfile(spec.mistakes, folder / f"_mistakes_{spec.module}.py")
            (folder / f"{spec.module}.py").write_text(_WRAPPER.format(mistake=mistakes[k], module=spec.module))
            chosen[spec.name] = mistakes[k]
    return folder, chosen


def _grade_pass(p: _Pass, recorder, support: list[ExerciseSpec], device: str):
    from grader.runner import GradeOptions, grade
    from grader.submission import from_stubs, locate

    submission = from_stubs(support) if p.submission_dir is None else locate(p.submission_dir, support)
    options = GradeOptions(
        device=device, seed=p.seed, include_hidden=False, reference_transport=recorder.transport_factory(seed=p.seed)
    )
    return {r.exercise: r for r in grade(p.specs, submission, options, support=support)}


def _record(kit_specs, support, seeds, device, work: Path, say, mistakes: int | None = None):
    """Grade every pass live, recording the reference; the passes and their live results."""
    from grader.replay import Recorder

    recorder = Recorder(device=device)
    done: list[tuple[_Pass, dict]] = []
    solutions = _solutions_folder(support, work / "solutions")
    for seed in seeds:
        for p in (
            _Pass("the solutions", seed, kit_specs, solutions),
            _Pass("the stubs", seed, kit_specs, None),
        ):
            say(f"recording: grading {p.label} (seed {seed})")
            done.append((p, _grade_pass(p, recorder, support, device)))
        names = {n: list(r.mistakes or []) for n, r in recorder.recordings.items()}
        k = 0
        while mistakes is None or k < mistakes:
            folder, chosen = _mistake_folder(k, names, support, work / f"mistakes-{seed}-{k}")
            if not chosen:
                shutil.rmtree(folder, ignore_errors=True)
                break
            specs = [s for s in kit_specs if s.name in chosen]
            p = _Pass(f"known mistakes #{k + 1}", seed, specs, folder, chosen)
            say(f"recording: grading {p.label} (seed {seed}): " + "; ".join(f"{e}: {m}" for e, m in chosen.items()))
            done.append((p, _grade_pass(p, recorder, support, device)))
            k += 1
    return recorder, done


# --------------------------------------------------------------------------- the kit's environment


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_")) and k not in ("VIRTUAL_ENV", "GRADER_DATA_DIR")}
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


def _check_isolation(python: Path, kit_dir: Path, env, cwd: Path) -> str:
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


# --------------------------------------------------------------------------- comparing


def compare_results(label: str, live: dict, kit_docs: list[dict]) -> PassCheck:
    """Check by check: the same names, verdicts, points and messages."""
    check = PassCheck(label)
    kit = {d["exercise"]: d for d in kit_docs}
    for name, result in live.items():
        doc = kit.get(name)
        if doc is None:
            check.mismatches.append(f"{label}: {name} was not graded in the kit")
            continue
        check.scores[name] = (doc["score"], doc["max_score"])
        want = [c.to_json() for c in result.checks]
        got = doc["checks"]
        if [c["name"] for c in want] != [c["name"] for c in got]:
            check.mismatches.append(f"{label}: {name}: the kit ran checks {[c['name'] for c in got]}, live {[c['name'] for c in want]}")
            continue
        for w, g in zip(want, got):
            check.checks += 1
            for key in ("status", "points", "max_points", "message"):
                if w.get(key) != g.get(key):
                    check.mismatches.append(
                        f"{label}: {name}::{w['name']}: {key} is {g.get(key)!r} in the kit, {w.get(key)!r} live"
                    )
                    break
    return check


_DRIVER = """
import json, sys
from pathlib import Path
from grader.api import grade_exercises
from grader.runner import GradeOptions
jobs = json.load(sys.stdin)
out = []
for job in jobs:
    options = GradeOptions(device=job["device"], seed=job["seed"])
    sub = Path(job["submission"]) if job["submission"] else None
    out.append([r.to_json() for r in grade_exercises(job["exercises"], sub, options)])
print("\\n" + json.dumps(out))
"""


def _verify_in_venv(kit_dir: Path, venv_dir: Path, passes, device: str, report: KitReport, say) -> None:
    python = make_kit_venv(kit_dir, venv_dir, say)
    env = kit_env(venv_dir)
    scratch = Path(tempfile.mkdtemp(prefix="kit-run-"))
    try:
        report.verified.append(_check_isolation(python, kit_dir, env, scratch))
        grade = str(venv_dir / "bin" / "grade")
        runs: list[tuple[list, subprocess.Popen, str | None]] = []  # (passes, process, stdin)
        rest = []
        for p, live in passes:
            if p.seed == DEFAULT_SEED and p.label in ("the stubs", "the solutions"):
                # The commands a student types, through the installed `grade` script.
                cmd = [grade, "all", "--json", "--device", device]
                if p.submission_dir is not None:
                    cmd += ["--submission", str(p.submission_dir)]
                say(f"verifying: grade {' '.join(cmd[1:])} (in the kit's venv)")
                runs.append(([(p, live)], _start(cmd, scratch, env), None))
            else:
                rest.append((p, live))
        if rest:
            # One process for the remaining passes: one torch import instead of many.
            say(f"verifying: {len(rest)} more passes (known mistakes, other seeds) in the kit's venv")
            jobs = [{"exercises": [s.name for s in p.specs], "seed": p.seed, "device": device,
                     "submission": str(p.submission_dir) if p.submission_dir else None} for p, _ in rest]  # fmt: skip
            runs.append((rest, _start([str(python), "-c", _DRIVER], scratch, env), json.dumps(jobs)))
        # The runs are independent: they go on side by side, and are read in turn.
        for group, proc, stdin in runs:
            try:
                out, err = proc.communicate(stdin, timeout=1200)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise ReleaseError(f"grading {group[0][0].label} in the kit took more than 20 minutes") from None
            if proc.returncode not in (0, 1):
                tail = " | ".join(err.strip().splitlines()[-3:])
                raise ReleaseError(f"grading {group[0][0].label} in the kit failed (exit {proc.returncode}): {tail}")
            docs = json.loads(out.strip().splitlines()[-1]) if stdin else [json.loads(out)]
            for (p, live), kit_docs in zip(group, docs):
                label = p.label + (f" (seed {p.seed})" if p.seed != DEFAULT_SEED else "")
                report.passes.append(compare_results(label, live, kit_docs))
    finally:
        for _, proc, _ in locals().get("runs", []):
            if proc.poll() is None:
                proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def _start(cmd: list[str], cwd: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=env)  # fmt: skip


# --------------------------------------------------------------------------- scanning for leaks


def _body_key(body: list[ast.stmt]) -> tuple[str, int]:
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring is handout text, not solution code
    module = ast.Module(body=body, type_ignores=[])
    return ast.dump(module, annotate_fields=False, include_attributes=False), sum(1 for _ in ast.walk(module))


def code_bodies(source: str) -> dict[str, tuple[str, str]]:
    """Normalized body -> (qualified name, source text) for every function and class with a real body."""
    tree = ast.parse(source)
    lines = source.splitlines()
    out: dict[str, tuple[str, str]] = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                key, size = _body_key(child.body)
                if size >= 12:  # `pass`, `...`, `raise NotImplementedError(...)`, `super().__init__()` are not solutions
                    segment = "\n".join(lines[child.body[0].lineno - 1 : child.body[-1].end_lineno])
                    out.setdefault(key, (name, segment))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _py_sources(path: Path) -> list[str]:
    if path.suffix == ".py":
        return [path.read_text(errors="replace")]
    if path.suffix == ".ipynb":
        try:
            doc = json.loads(path.read_text())
            cells = [c for c in doc.get("cells", []) if c.get("cell_type") == "code"]
            sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
            return ["\n".join(line for line in s.splitlines() if not line.lstrip().startswith(("!", "%"))) for s in sources]
        except (ValueError, KeyError, AttributeError, TypeError):
            return []
    return []


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def scan_for_leaks(kit_dir: Path, solution_files: list[Path], public_files: list[Path]) -> tuple[list[str], str]:
    """Problems found (solution bodies, hidden checks, forbidden files), and a summary line."""
    forbidden: dict[str, tuple[str, str]] = {}
    for path in solution_files:
        for key, (name, text) in code_bodies(path.read_text()).items():
            forbidden.setdefault(key, (f"{path.name}:{name}", text))
    for path in public_files:  # given in the handout (e.g. a constructor the stub provides)
        try:
            for key in code_bodies(path.read_text()):
                forbidden.pop(key, None)
        except (SyntaxError, OSError):
            continue
    squashed = {key: _squash(text) for key, (_, text) in forbidden.items() if len(_squash(text)) >= 40}
    problems = []
    files = [p for p in kit_dir.rglob("*") if p.is_file() and ".egg-info" not in p.as_posix()]
    for path in files:
        rel = path.relative_to(kit_dir).as_posix()
        if rel.split("/")[0] in ("solutions", "tests", "benchmarks", "benchmark") or rel.endswith("_mistakes.py") \
                or re.search(r"(^|/)test_[^/]*_hidden\.py$", rel):
            problems.append(f"{rel} must not be in a kit")
        for source in _py_sources(path):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in hidden_checks_in(tree):
                problems.append(f"{rel}: hidden check {getattr(node, 'name', 'pytestmark')}")
            for key in code_bodies(source):
                if key in forbidden:
                    problems.append(f"{rel}: holds the body of {forbidden[key][0]}")
        if path.stat().st_size < 5 * 1024 * 1024 and squashed:
            try:
                text = _squash(path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError:
                continue  # binary (tensors, checkpoints): no source code in there
            for key, body in squashed.items():
                if body in text and not any(forbidden[key][0] in p and rel in p for p in problems):
                    problems.append(f"{rel}: holds the text of {forbidden[key][0]}")
    summary = (f"no solution function or class body ({len(forbidden)} from solutions/) and no hidden check "
               f"in any of the kit's {len(files)} files")  # fmt: skip
    return sorted(set(problems)), summary


# --------------------------------------------------------------------------- the library entry point


def _clean(kit_dir: Path) -> None:
    """Remove what installing and running the kit left in it (bytecode, egg-info)."""
    for path in list(kit_dir.rglob("__pycache__")) + list(kit_dir.glob("*.egg-info")):
        shutil.rmtree(path, ignore_errors=True)


def build_kit(
    kit_dir: Path,
    exercises: list[str] | None = None,
    force: bool = False,
    verify: bool = True,
    seeds: Iterable[int] = (DEFAULT_SEED,),
    device: str = "cpu",
    venv_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    mistakes: int | None = None,
) -> KitReport:
    """Write a student kit to ``kit_dir``, record the reference into it, and verify it.

    ``venv_dir``: where to build the verification venv (kept, for callers that want to
    use it); by default a temporary folder, removed afterwards. ``mistakes``: grade (record
    and verify) only the first N known mistakes of each exercise as submissions; None: all.
    """
    start = time.monotonic()
    say = (lambda line: progress(f"[{time.monotonic() - start:5.1f} s] {line}")) if progress else (lambda _: None)
    kit_dir = Path(kit_dir).absolute()
    seeds = sorted(set(int(s) for s in seeds)) or [DEFAULT_SEED]
    if DEFAULT_SEED not in seeds:
        seeds = [DEFAULT_SEED] + seeds
    if not (COURSE_ROOT / "solutions").is_dir() or not (COURSE_ROOT / "pyproject.toml").is_file():
        raise ReleaseError("grade release needs the course repository (with solutions/); this looks like a student kit")
    chosen, included = _choose(exercises)
    _check_target(kit_dir, force)
    kit_dir.mkdir(parents=True, exist_ok=True)
    report = KitReport(kit_dir, [s.name for s in included], seeds, verify=verify)

    # 1. what students get (pyproject.toml first: it marks the folder as a kit for --force)
    say(f"writing the kit to {kit_dir}")
    (kit_dir / "pyproject.toml").write_text(kit_pyproject(included))
    shutil.copytree(COURSE_ROOT / "grader", kit_dir / "grader", ignore=_IGNORE)
    (kit_dir / "exercises").mkdir()
    shutil.copyfile(COURSE_ROOT / "exercises" / "__init__.py", kit_dir / "exercises" / "__init__.py")
    for spec in included:
        _copy_exercise(spec, kit_dir / "exercises", report)
    if (COURSE_ROOT / "data").is_dir():
        shutil.copytree(COURSE_ROOT / "data", kit_dir / "data", ignore=_IGNORE)
    (kit_dir / "README.md").write_text(kit_readme(included, seeds))
    kit_specs = [_kit_spec(s, kit_dir) for s in included]
    from grader.notebooks import write_notebook

    for spec in kit_specs:
        report.notebooks.append(write_notebook(spec, kit_dir / "notebooks" / f"{spec.name}.ipynb"))

    # 2. the recorded reference, from live grading of the kit's own checks
    work = Path(tempfile.mkdtemp(prefix="grade-release-"))
    try:
        from grader.replay import recording_paths

        recorder, passes = _record(kit_specs, included, seeds, device, work, say, mistakes)
        for spec in kit_specs:
            recording = recorder.recordings.get(spec.name)
            if recording is None:
                continue
            index, blobs = recording_paths(spec)
            recording.save(index, blobs)
            report.recorded_calls[spec.name] = len(recording.replies)
            report.recording_bytes += index.stat().st_size + blobs.stat().st_size
            if recording.conflicts:
                report.problems.append(
                    f"{spec.name}: the reference gave different answers to the same request in different passes "
                    f"({len(recording.conflicts)} requests): seed the checks' randomness"
                )
        for p, live in passes:
            if p.seed != DEFAULT_SEED:
                continue
            for name, result in live.items():
                if p.label == "the solutions" and result.score != result.max_score:
                    failing = [c.name for c in result.checks if c.status != "passed"]
                    report.problems.append(f"live grading: the solution of {name} fails {', '.join(failing)}")
                    report.unfinished.append(name)
                if p.label == "the stubs" and result.score != 0:
                    report.problems.append(f"live grading: the stub of {name} scores {result.score:g}, not 0")
                    report.unfinished.append(name)

        # 3. verification
        public = [p for p in (COURSE_ROOT / "exercises").rglob("*.py")] + list((COURSE_ROOT / "grader").rglob("*.py"))
        solution_files = sorted((COURSE_ROOT / "solutions").rglob("*.py"))
        problems, summary = scan_for_leaks(kit_dir, solution_files, public)
        report.problems += problems
        if not problems:
            report.verified.append(summary)
        if verify:
            venv = Path(venv_dir).absolute() if venv_dir else work / "venv"
            if venv.exists() and any(venv.iterdir()):
                shutil.rmtree(venv)
            try:
                _verify_in_venv(kit_dir, venv, passes, device, report, say)
            except ReleaseError as exc:
                report.problems.append(str(exc))
            for check in report.passes:
                report.problems += check.mismatches
                if not check.mismatches:
                    scores = ", ".join(f"{n} {s:g}/{m:g}" for n, (s, m) in check.scores.items())
                    report.verified.append(f"{check.label}: {scores}; {check.checks} checks, same verdicts and messages as live grading")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        _clean(kit_dir)
    report.files = sum(1 for p in kit_dir.rglob("*") if p.is_file() and ".egg-info" not in p.as_posix())
    report.seconds = time.monotonic() - start
    return report


# --------------------------------------------------------------------------- the command


class _UsageError(click.ClickException):
    exit_code = 2


@click.command("release")
@click.argument("kit_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty KIT_DIR.")
@click.option("--exercises", default=None, help="Comma-separated exercise names (default: all).")
@click.option("--no-verify", is_flag=True, help="Skip installing and grading the kit in a fresh venv.")
@click.option("--seed", "seeds", type=int, multiple=True, help="Record for this --seed too (repeatable; 0 always).")
@click.option("--mistakes", type=click.IntRange(min=0), default=None,
              help="Grade only the first N known mistakes of each exercise as submissions (default: all).")
def release_command(kit_dir: Path, force: bool, exercises: str | None, no_verify: bool, seeds: tuple[int, ...],
                    mistakes: int | None) -> None:
    """Build a student kit in KIT_DIR: no solution code, a recorded reference, notebooks."""
    names = [n.strip() for n in exercises.split(",") if n.strip()] if exercises else None

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        report = build_kit(kit_dir, names, force=force, verify=not no_verify, seeds=seeds or (DEFAULT_SEED,),
                           progress=say, mistakes=mistakes)
    except ReleaseError as exc:
        raise _UsageError(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)


__all__ = ["build_kit", "KitReport", "ReleaseError", "release_command", "scan_for_leaks", "strip_hidden_checks"]
