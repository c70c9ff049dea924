"""``grade batch``: grade a folder of student submissions (a thin layer over grader.batch.run).

Exit codes: 0 every submission was graded or reported (a broken submission is the
student's result, not a failure of the batch); 1 the grader itself failed on some
submissions (they are marked in the journal: ``--resume`` grades them again); 2 a usage
error; 130 interrupted (``--resume`` continues where it stopped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from grader.batch.job import SUBMISSION_SECONDS
from grader.usage import UsageError, exercise_names


@click.command("batch")
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="RESULTS folder: journal, grades.csv, per-student files, junit.xml, report.html.")
@click.option("--exercises", default=None, metavar="A,B", help="Exercises to grade (default: all installed).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local worker processes (default: one per core; with --device cuda at most 4 per GPU).")
@click.option("--timeout", type=float, default=SUBMISSION_SECONDS, show_default=True,
              help="Wall-clock seconds for grading ONE submission (all its exercises); past it the "
                   "student gets an 'error' result.")
@click.option("--call-timeout", type=float, default=20.0, show_default=True,
              help="Seconds one call into submitted code may take (as grade exercise --timeout).")
@click.option("--resume", is_flag=True, help="Continue the batch in RESULTS: grade only what the journal lacks.")
@click.option("--force", is_flag=True, help="Start over in a non-empty RESULTS (its old outputs are removed).")
@click.option("--cluster", default=None, metavar="tcp://HOST:PORT",
              help="Grade on this Dask scheduler's workers instead of locally.")
@click.option("--cluster-timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the Dask scheduler to answer.")
@click.option("--roster", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="CSV of enrolled students (a Canvas gradebook export, or any CSV with an id column).")
@click.option("--canvas", is_flag=True, help="Also write canvas.csv in Canvas's gradebook import layout (needs --roster).")
@click.option("--assignment", default="Transformer course", show_default=True,
              help="The assignment column's name in canvas.csv.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
              help="Where the checks' tensors live (cpu: the same scores on every machine).")
@click.option("--seed", type=int, default=None,
              help="One seed for every student's inputs (default: one per batch, derived from this install's "
                   "grading secret and a nonce kept in RESULTS for --resume).")
@click.option("--checkpoint", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              envvar="GRADER_GPT2_CHECKPOINT", help="GPT-2 checkpoint folder for gpt2_loading (HF layout).")
@click.option("--deadline", default=None, metavar="ISO-TIME",
              help="When the work was due (2026-12-01T23:59, local time unless it has a zone): adds the "
                   "late columns to grades.csv and the late policy's penalty to every total.")
@click.option("--late-policy", default=None, metavar="POLICY",
              help='With --deadline: "10%/day, max 5 days", "2 points/day", "5%/hour", "grace 15 min", "cap 50%" or "none" (the default).')
@click.option("--times", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="With --deadline: CSV with columns id, submitted_at (ISO 8601): when each student submitted.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@click.option("--similarity", is_flag=True,
              help="Also compare every pair of submissions per exercise for copied work: similarity.csv and a report.html section.")
@click.option("--no-sandbox", is_flag=True,
              help="Grade even where student code cannot be isolated (every result is marked so): trusted code only.")
def batch_command(submissions, out, exercises, workers, timeout, call_timeout, resume, force, cluster, cluster_timeout, roster,
                  canvas, assignment, device, seed, checkpoint, as_json, no_progress, no_sandbox,
                  deadline=None, late_policy=None, times=None, similarity=False) -> None:  # fmt: skip
    """Grade every submission in SUBMISSIONS (one entry per student, named by the student's id:
    a folder, a .zip, a .py or a .ipynb) and write the results to --out."""
    from grader.batch.gradebook import RosterError
    from grader.batch.run import BatchError, BatchOptions, run_batch

    if resume and force:
        raise UsageError("--resume and --force contradict each other: choose one")
    if device != "cpu":
        from grader.runner import resolve_device

        try:
            resolve_device(device)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    options = BatchOptions(
        submissions=submissions, out=out, exercises=exercise_names(exercises), workers=workers, timeout=timeout,
        call_timeout=call_timeout, device=device, seed=seed, resume=resume, force=force, cluster=cluster, cluster_timeout=cluster_timeout,
        roster=roster, canvas=canvas, assignment=assignment,
        settings={"checkpoint": str(checkpoint.resolve())} if checkpoint else {},
        sandbox=not no_sandbox, deadline=deadline, late_policy=late_policy, times=times, similarity=similarity,
    )  # fmt: skip
    progress = None
    if not no_progress:
        from grader.batch.progress import RichProgress

        progress = RichProgress()
    try:
        summary = run_batch(options, progress)
    except BatchError as exc:
        raise UsageError(str(exc)) from None
    except RosterError as exc:
        # Raised before grading (nothing to redo), but RESULTS now holds an empty journal.
        raise UsageError(f"{exc}, then rerun with --resume") from None
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished results are in {out}; rerun with --resume to continue", err=True)
        sys.exit(130)
    if summary.unmatched:
        shown = ", ".join(summary.unmatched[:10]) + (" ..." if len(summary.unmatched) > 10 else "")
        click.echo(f"warning: {len(summary.unmatched)} submissions match no roster row (not in canvas.csv): {shown}", err=True)
    for warning in summary.late_warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
        click.echo(summary.line(), err=True)
    else:
        click.echo(summary.line())
    if summary.retry:
        click.echo(f"the grader itself failed on {summary.retry} submissions: rerun with --resume to grade them again", err=True)
        sys.exit(1)
