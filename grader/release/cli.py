"""``grade release``: the thin Click command over :func:`grader.release.build.build_kit`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.release.build import build_kit
from grader.release.course import DEFAULT_SEED, ReleaseError
from grader.usage import UsageError, exercise_names


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
    names = exercise_names(exercises)

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        report = build_kit(kit_dir, names, force=force, verify=not no_verify, seeds=seeds or (DEFAULT_SEED,),
                           progress=say, mistakes=mistakes)
    except ReleaseError as exc:
        raise UsageError(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)
