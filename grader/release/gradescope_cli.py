"""``grade gradescope OUT.zip``: the thin Click command over :func:`grader.release.gradescope_bundle.build_bundle`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.release.course import ReleaseError
from grader.release.gradescope_bundle import build_bundle
from grader.sandbox import OFF, REQUIRED
from grader.usage import UsageError, exercise_names


@click.command("gradescope")
@click.argument("out_zip", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--exercises", default=None, help="Comma-separated exercise names (default: all).")
@click.option("--force", is_flag=True, help="Replace OUT.zip if it exists.")
@click.option("--no-sandbox", is_flag=True,
              help="Grade even where Gradescope's container refuses the jail (submissions then run unjailed, "
                   "as root, and every result says so). Without it such a container gives every submission 0.")
@click.option("--mistakes", type=click.IntRange(min=0), default=None,
              help="Record only the first N known mistakes of each exercise (default: all).")
@click.option("--wheels", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="A folder of .whl files to ship (torch, the kit's dependencies, setuptools>=68): setup.sh then installs offline.")
def gradescope_command(out_zip: Path, exercises: str | None, force: bool, no_sandbox: bool, mistakes: int | None,
                       wheels: Path | None) -> None:
    """Build Gradescope's autograder bundle (setup.sh, run_autograder, the kit) in OUT.zip."""
    names = exercise_names(exercises)

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        report = build_bundle(out_zip, names, force=force, isolation=OFF if no_sandbox else REQUIRED,
                              mistakes=mistakes, wheels=wheels, progress=say)
    except ReleaseError as exc:
        raise UsageError(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)
