"""``grade notebook``: the thin Click command over :func:`grader.notebooks.write_notebook`."""

from __future__ import annotations

from pathlib import Path

import click

from grader.notebooks import SUBMISSION, write_notebook
from grader.usage import UsageError


@click.command("notebook")
@click.argument("name")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the notebook (default: ./NAME.ipynb).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def notebook_command(name: str, out: Path | None, force: bool) -> None:
    """Write a Jupyter notebook for exercise NAME: handout, stub to fill in, checks."""
    from grader.registry import UnknownExercise, load_registry

    try:
        spec = load_registry().get(name)
    except UnknownExercise as exc:
        raise UsageError(str(exc)) from None
    out = out or Path(f"{spec.name}.ipynb")
    if out.exists() and not force:
        raise UsageError(f"{out} exists; use --force to overwrite it (your work in it would be lost)")
    if not Path(spec.stub).is_file():
        raise UsageError(f"exercise {name} has no stub file ({spec.stub})")
    write_notebook(spec, out)
    click.echo(f"wrote {out}: fill in the cell tagged '{SUBMISSION}', then run the last cell to grade it")
