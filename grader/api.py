"""The library API behind the ``grade`` command; usable without the CLI.

>>> from grader.api import grade_exercise
>>> result = grade_exercise("softmax")            # the student's own file
>>> result.score, result.max_score
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from grader.registry import Registry, UnknownExercise, load_registry
from grader.results import ExerciseResult
from grader.runner import GradeOptions, grade
from grader.sandbox import Limits
from grader.secret import SecretUnavailable, default_seed
from grader.spec import ExerciseInfo, ExerciseSpec, StaticCheck, marked_points, required_modules
from grader.submission import (
    Submission,
    SubmissionError,
    from_solutions,
    from_stubs,
    locate,
)


def list_exercises(registry: Registry | None = None) -> list[ExerciseInfo]:
    """Exercises in course order, with their checks counted statically (no torch import)."""
    registry = registry or load_registry()
    return [ExerciseInfo(spec, tuple(static_checks(spec))) for spec in registry.ordered()]


class UnrecordedSeed(ValueError):
    """A student kit asked for a seed its recorded reference was not made for: one line."""


def refuse_unrecorded_seed(specs: list[ExerciseSpec], seed: int) -> None:
    """Raise UnrecordedSeed when ``specs`` replay a recording that holds no replies for ``seed``.

    Every check that asks the reference would otherwise report "this student kit is out of
    date"; saying so once, before grading, is the honest answer."""
    from grader.replay import recorded_seeds

    seeds = recorded_seeds([s for s in specs if not s.has_solution])
    if seeds is not None and seed not in seeds:
        shown = ", ".join(map(str, sorted(seeds))) or "no seed"
        raise UnrecordedSeed(
            f"--seed {seed}: this kit's recorded reference holds --seed {shown} only; grade without --seed "
            f"(a kit for seed {seed} is built with `grade release --seed {seed}`)"
        )


class CheckFileError(ValueError):
    """A check file that cannot be read as checks: one line naming the file and the fault."""


def _points_of(path: Path, node: ast.FunctionDef) -> tuple[float, bool, int]:
    points, hidden, params = 1.0, False, 1
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = ast.unparse(target)
        if name.endswith("mark.points"):
            # The plugin's rule (spec.marked_points): what it refuses when the checks run is
            # refused here too, never guessed as 1.
            args = dec.args if isinstance(dec, ast.Call) else []
            keywords = dec.keywords if isinstance(dec, ast.Call) else []
            try:
                points = marked_points(
                    tuple(ast.literal_eval(a) for a in args), {k.arg: ast.literal_eval(k.value) for k in keywords}
                )
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
                written = ", ".join(ast.unparse(a) for a in [*args, *keywords]) or "nothing"
                why = exc if "negative" in str(exc) else f"@pytest.mark.points needs one number, got {written}"
                raise CheckFileError(f"{path}, line {dec.lineno}: {node.name}: {why}") from None
        elif name.endswith("mark.hidden"):
            hidden = True
        elif name.endswith("mark.parametrize") and isinstance(dec, ast.Call) and len(dec.args) >= 2:
            values = dec.args[1]
            if isinstance(values, (ast.List, ast.Tuple)):
                params *= len(values.elts)
    return points, hidden, params


def static_checks(spec: ExerciseSpec, include_hidden: bool = False) -> list[StaticCheck]:
    """The checks of an exercise and their points, read from the check files' source.

    Raises CheckFileError for a check file that is missing, does not parse or gives
    points that are not a number."""
    out: list[StaticCheck] = []
    for path in spec.all_checks(include_hidden):
        try:
            tree = ast.parse(Path(path).read_text())
        except OSError as exc:
            raise CheckFileError(f"{path}: cannot read the check file: {exc.strerror or exc}") from None
        except SyntaxError as exc:
            raise CheckFileError(f"{path}, line {exc.lineno}: the check file does not parse: {exc.msg}") from None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                points, hidden, params = _points_of(Path(path), node)
                for _ in range(params):
                    out.append(StaticCheck(node.name, points, hidden))
    return out


def with_requirements(specs: list[ExerciseSpec], registry: Registry) -> list[ExerciseSpec]:
    """``specs`` plus the exercises whose modules they import (``requires``, and what those
    require in turn: gpt2_loading's decoder_block may import attention), each once."""
    by_module = {s.module: s for s in registry.ordered()}
    # A module no installed exercise provides is skipped: there is no spec to grade it with.
    needed = [by_module[m] for m in required_modules(specs, by_module) if m in by_module]
    return list(specs) + [s for s in needed if s not in specs]


def submission_for(path: Path | None, specs: list[ExerciseSpec], registry: Registry | None = None) -> Submission:
    """Resolve a submission for ``specs`` and the modules they import.

    The student's own files in exercises/ when ``path`` is None. A module a graded one
    imports comes from the submission's folder (for a single file: the folder it sits
    in) when it is there, else from the student's file in exercises/.
    """
    registry = registry or load_registry()
    wanted = with_requirements(specs, registry)
    if path is None:
        return from_stubs(wanted)
    sub = locate(Path(path), specs)
    extra = [s for s in wanted[len(specs):] if s.module not in sub.files]
    if extra:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        beside = locate(folder, extra)
        for spec in extra:
            sub.files[spec.module] = beside.files.get(spec.module, spec.stub)
    return sub


def grade_exercises(
    names: list[str] | None = None,
    submission: Path | Submission | None = None,
    options: GradeOptions | None = None,
    registry: Registry | None = None,
    *,
    solutions: bool = False,
) -> list[ExerciseResult]:
    """Grade several exercises (all when ``names`` is empty) in one run.

    ``submission``: a file, a folder or notebook, a resolved Submission, or None for the
    student's own files in exercises/; ``solutions``: grade the reference solutions
    instead. ``options.seed`` None means this install's own seed (grader.secret).
    Raises SubmissionError for a single file that does not hold the graded module.
    """
    registry = registry or load_registry()
    specs = registry.select(names)
    support = with_requirements(specs, registry)
    if solutions:
        submission = from_solutions(support)
    elif not isinstance(submission, Submission):
        path = submission
        submission = submission_for(path, specs, registry)
        if len(specs) == 1 and specs[0].module in submission.problems and path and Path(path).is_file():
            raise SubmissionError(submission.problems[specs[0].module])
    options = options or GradeOptions()
    if options.seed is None:
        options = replace(options, seed=default_seed(specs))
    elif options.reference_transport is None and not solutions:
        refuse_unrecorded_seed(specs, options.seed)
    return grade(specs, submission, options, support=support)


def grade_exercise(name: str, submission: Path | Submission | None = None, options: GradeOptions | None = None) -> ExerciseResult:
    return grade_exercises([name], submission, options)[0]


def missing_isolation() -> str | None:
    """Why this machine grades without the jail (macOS, WSL, a locked-down container), or
    None where the jail holds."""
    from grader.jail import probe

    return probe()


def check_solutions(names: list[str] | None = None, options: GradeOptions | None = None) -> list[ExerciseResult]:
    """Grade the reference solutions as a submission (CI: they must earn full marks)."""
    return grade_exercises(names, options=options, solutions=True)


__all__ = [
    "GradeOptions",
    "Limits",
    "SecretUnavailable",
    "SubmissionError",
    "UnknownExercise",
    "CheckFileError",
    "UnrecordedSeed",
    "list_exercises",
    "static_checks",
    "grade_exercise",
    "grade_exercises",
    "check_solutions",
    "missing_isolation",
    "submission_for",
]
