"""``grade similarity``: the copied-work report on a folder of submissions (a thin layer
over grader.similarity.report). Nothing submitted is run: files are only read."""

from __future__ import annotations

from pathlib import Path

import click

from grader.usage import UsageError, exercise_names


@click.command("similarity")
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Folder for similarity.csv and similarity.html.")
@click.option("--exercises", default=None, metavar="A,B", help="Exercises to compare (default: all installed).")
def similarity_command(submissions: Path, out: Path, exercises: str | None) -> None:
    """Compare every pair of submissions in SUBMISSIONS (one entry per student, as for
    grade batch) per exercise, and write the most similar pairs to --out."""
    from grader.similarity.report import SimilarityError, similarity_report, write_report

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    try:
        if out.resolve() == submissions.resolve() or submissions.resolve() in out.resolve().parents:
            raise UsageError("--out must not be inside SUBMISSIONS (it would be taken for a student)")
        report = similarity_report(submissions, exercise_names(exercises))
        csv_path, html_path = write_report(report, out)
    except SimilarityError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    # No student id on the terminal: ids are folder names, which may hold escape sequences.
    groups = sum(len(c.groups) for c in report.comparisons)  # in the HTML only: similarity.csv lists pairs
    listed = f", {groups} groups of identical files (see the HTML)" if groups else ""
    click.echo(f"{report.students} submissions, {len(report.pairs())} similar pairs{listed} -> {csv_path}, {html_path}")
