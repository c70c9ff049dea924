"""The ``grade`` command: a thin Click layer over :mod:`grader.api`.

Expected user errors (unknown exercise, missing file, bad notebook, no CUDA) become one
line on stderr and exit code 2; a finished grading run exits 0 when every check passed
and 1 otherwise. Commands that belong to other rooms (notebook, release, batch) load
lazily, so a problem in one of them cannot break ``grade --help``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from pathlib import Path

import click

from grader.safe_text import printable
from grader.usage import UsageError

LAZY_COMMANDS = {
    "notebook": ("grader.notebook_cli", "notebook_command", "Write a Jupyter notebook for an exercise."),
    "release": ("grader.release", "release_command", "Build a student kit with no solution code."),
    "batch": ("grader.batch.cli", "batch_command", "Grade a folder of student submissions."),
    "similarity": ("grader.similarity.cli", "similarity_command", "Find copied work: the most similar submissions."),
    "gradescope": ("grader.release.gradescope_cli", "gradescope_command", "Build a Gradescope autograder bundle."),
}


# Commands that need the solutions: a student kit neither lists nor runs them.
INSTRUCTOR_COMMANDS = {"batch", "release", "check-solutions", "similarity", "gradescope"}


@functools.cache
def _student_kit() -> bool:
    """Whether this install is a student kit (no solution installed; see Registry.student_kit)."""
    from grader.registry import load_registry

    return load_registry().student_kit()


class CourseGroup(click.Group):
    def list_commands(self, ctx):
        names = set(super().list_commands(ctx)) | set(LAZY_COMMANDS)
        return sorted(names - INSTRUCTOR_COMMANDS if _student_kit() else names)

    def get_command(self, ctx, name):
        if name in INSTRUCTOR_COMMANDS and _student_kit():
            return _instructor_only(name)
        if name in LAZY_COMMANDS:
            module, attr, help_text = LAZY_COMMANDS[name]
            try:
                return getattr(importlib.import_module(module), attr)
            except Exception as exc:  # a broken room must not break the others
                why = f"the {name} command is unavailable: {type(exc).__name__}: {exc}"

                @click.command(name, help=help_text)
                def broken():
                    raise click.ClickException(why)

                return broken
        return super().get_command(ctx, name)


def _instructor_only(name: str) -> click.Command:
    @click.command(name, hidden=True, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def refused():
        raise UsageError(f"`grade {name}` is an instructor's command: it needs the solutions, which a student kit does not have")

    return refused


class KitHiddenOption(click.Option):
    """An option a student kit does not show (``--seed``: the kit's recorded seed is the default)."""

    @property
    def hidden(self) -> bool:
        return self._hidden or _student_kit()

    @hidden.setter
    def hidden(self, value: bool) -> None:
        self._hidden = value


def _start_workers_early() -> None:
    """Start the zygote now so its torch import overlaps ours. (Straight from grader.zygote,
    the one library module the CLI imports besides grader.api and the display helpers:
    importing grader.api first would delay the start by its own imports.)"""
    from grader.zygote import default_zygote

    default_zygote()


def grade_options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(f)
    f = click.option(
        "--seed", type=int, default=None, cls=KitHiddenOption,
        help="Seed for the checks' inputs (default: 0 in a student kit, the seed its reference was recorded "
             "for; where the solutions are installed, one derived from this install's grading secret).",
    )(f)
    f = click.option(
        "--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True,
        help="Where tensors live during the checks.",
    )(f)
    f = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Seconds one call into submitted code may take.")(f)  # fmt: skip
    return f


def _progress():
    """A one-line status on stderr while checks run (only on a terminal)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    done = {"n": 0, "failed": 0}

    def on_check(exercise, check) -> None:
        done["n"] += 1
        done["failed"] += check.status != "passed"
        console.print(
            f"[dim]{exercise}: {done['n']} checks run, {done['failed']} failed[/dim]", end="\r", highlight=False
        )

    return on_check


def _options(device: str, seed: int, timeout: float | None, settings: dict | None = None):
    from grader.api import GradeOptions, Limits

    limits = Limits() if timeout is None else Limits(call_seconds=timeout)
    return GradeOptions(device=device, seed=seed, limits=limits, settings=dict(settings or {}), on_check=_progress())


def _run(names, submission, device, seed, timeout, solutions=False, settings=None):
    _start_workers_early()  # first thing: its torch import overlaps everything below
    from grader import api
    try:
        _note_missing_isolation()
        options = _options(device, seed, timeout, settings)
        path = Path(submission) if submission else None
        return api.grade_exercises(list(names or []), path, options, solutions=solutions)
    except (api.SecretUnavailable, api.UnknownExercise, api.SubmissionError) as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:  # e.g. --device cuda without CUDA
        raise UsageError(str(exc)) from None


def _note_missing_isolation() -> None:
    """Say once, on stderr, when this machine grades without the jail (macOS, WSL, a locked-down
    container): fine for one's own code, which is all `grade exercise` runs."""
    from grader.api import missing_isolation

    reason = missing_isolation()
    if reason is not None:
        click.echo(f"note: grading without isolation on this machine ({reason}); fine for your own code", err=True)


def _report(results, as_json: bool, single: bool, force_fail: bool = False) -> None:
    if as_json:
        from grader.results import as_dicts

        docs = as_dicts(results)
        click.echo(json.dumps(docs[0] if single else docs, indent=2))
    else:
        from rich.console import Console

        from grader.display import print_exercise, summary_table

        console = Console(highlight=False)
        for r in results:
            print_exercise(console, r)
        if not single:
            console.print(summary_table(results))
    sys.exit(0 if all(r.passed for r in results) and not force_fail else 1)


@click.group(cls=CourseGroup)
@click.version_option(package_name="transformer-course-grader")
def cli() -> None:
    """Grade transformer-course exercises: softmax, attention, ..., GPT-2 loading."""


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """The exercises in course order, with title and max points."""
    from grader.api import CheckFileError, list_exercises
    from grader.registry import load_registry

    registry = load_registry()
    try:
        infos = list_exercises(registry)
    except CheckFileError as exc:
        raise UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps([
            {"name": i.spec.name, "title": i.spec.title, "order": i.spec.order, "max_points": i.max_points,
             "checks": len([c for c in i.checks if not c.hidden])}
            for i in infos
        ], indent=2))
        return
    from rich.console import Console

    from grader.display import list_table

    Console(highlight=False).print(list_table(infos, registry.broken))


@cli.command("exercise")
@click.argument("name")
@click.option("--submission", type=click.Path(path_type=Path), default=None,
              help="A .py file, a notebook or a folder holding the module (default: your file in exercises/).")
@grade_options
@click.option("--checkpoint", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              envvar="GRADER_GPT2_CHECKPOINT",
              help="A GPT-2 checkpoint folder in the Hugging Face layout (gpt2_loading; env GRADER_GPT2_CHECKPOINT).")
@click.option("--watch", is_flag=True,
              help="Grade again each time you save the file, clearing the screen (with --json: one line per run); "
                   "Ctrl-C stops.")
def exercise_command(name, submission, device, seed, timeout, as_json, checkpoint, watch) -> None:
    """Grade one exercise."""
    settings = {"checkpoint": str(checkpoint.resolve())} if checkpoint else {}
    if watch:
        _watch(name, submission, device, seed, timeout, settings, as_json)
    results = _run([name], submission, device, seed, timeout, settings=settings)
    _report(results, as_json, single=True)


def _watch(name, submission, device, seed, timeout, settings, as_json) -> None:
    """--watch: grader.watch runs the loop; this says what each run prints. A usage error on
    the first run ends it (exit 2); on a later one it is printed and the watch goes on."""
    _start_workers_early()
    from rich.console import Console

    from grader import api, watch
    from grader.display import print_exercise
    from grader.registry import load_registry
    from grader.results import as_dicts

    registry = load_registry()  # once: a save changes the submission, not the course
    try:
        spec = registry.get(name)
    except api.UnknownExercise as exc:
        raise UsageError(str(exc)) from None
    _note_missing_isolation()
    console = Console(highlight=False)
    path = Path(submission) if submission else None
    last = {"passed": False, "runs": 0}

    def grade_once() -> None:
        last["runs"] += 1
        try:
            options = _options(device, seed, timeout, settings)
            [result] = api.grade_exercises([name], path, options, registry)
        except (api.SecretUnavailable, api.SubmissionError, ValueError) as exc:
            if last["runs"] == 1:
                raise UsageError(str(exc)) from None
            click.echo(f"Error: {printable(exc)}", err=True)
            last["passed"] = False
            return
        last["passed"] = result.passed
        if as_json:
            click.echo(json.dumps(as_dicts([result])[0]))
            return
        print_exercise(console, result)
        console.print(f"[dim]grading again when you save {submission or spec.stub}; Ctrl-C stops[/dim]")

    folders, files, trees = watch.watched_paths(path, [s.stub for s in api.with_requirements([spec], registry)])
    watch.watch(folders, files, trees, grade_once, before_regrade=(lambda: None) if as_json else console.clear)
    sys.exit(0 if last["passed"] else 1)


@cli.command("all")
@click.option("--submission", type=click.Path(path_type=Path), default=None,
              help="A folder holding your modules (default: your files in exercises/).")
@grade_options
def all_command(submission, device, seed, timeout, as_json) -> None:
    """Grade every exercise, with one summary."""
    results = _run(None, submission, device, seed, timeout)
    _report(results, as_json, single=False)


@cli.command("check-solutions")
@click.argument("names", nargs=-1)
@grade_options
def check_solutions_command(names, device, seed, timeout, as_json) -> None:
    """Grade the reference solutions; fail unless every check passes."""
    results = _run(list(names) or None, None, device, seed, timeout, solutions=True)
    broken = {} if names else _broken_plugins()
    for name, why in broken.items():
        click.echo(f"broken exercise plugin {name}: {why}", err=True)
    _report(results, as_json, single=False, force_fail=bool(broken))


def _broken_plugins() -> dict[str, str]:
    from grader.registry import load_registry

    return load_registry().broken


# Commands after which the process may end without tearing torch down.
FAST_EXIT_COMMANDS = {"list", "exercise", "all", "check-solutions"}


def main() -> None:
    """The console entry point: the ``cli`` group, then a fast exit for the grading commands.

    Interpreter teardown with torch loaded costs ~0.5 s, a fifth of a student's
    ``grade exercise``; once the output is flushed and the workers stopped there is
    nothing left to tear down.
    """
    if len(sys.argv) < 2 or sys.argv[1] not in FAST_EXIT_COMMANDS:
        cli()
        return
    try:
        cli()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        from grader.zygote import shutdown_default

        shutdown_default(wait=False)
        os._exit(code)


if __name__ == "__main__":
    main()
