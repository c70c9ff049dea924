"""``run_batch``: the library entry point behind ``grade batch`` (usable without the CLI).

    from grader.batch.run import BatchOptions, run_batch
    summary = run_batch(BatchOptions(Path("submissions"), Path("results"), exercises=["softmax"]))

It finds the students, skips those the journal already holds (``resume``), hands the rest
to the local pool or a Dask cluster, journals each result as it arrives, and at the end
writes every output from the journal: grades.csv (canvas.csv), students/<id>/{result.json,
feedback.txt, results.json}, junit.xml, report.html.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from grader.batch.discover import discover
from grader.batch.job import ERROR, GRADED, SUBMISSION_SECONDS, JobOptions, error_result, fingerprint
from grader.sandbox import OFF, REQUIRED
from grader.batch.journal import (
    JOURNAL,
    LOCK,
    Journal,
    JournalBusy,
    grader_failed,
    latest,
    lock_results,
    read_journal,
    reusable,
)

# This batch's nonce: with the grading secret it gives the seed every student is graded with.
NONCE = "batch-nonce"
OUTPUTS = ("grades.csv", "canvas.csv", "junit.xml", "report.html", "similarity.csv", "students", "logs", NONCE, JOURNAL)


class BatchError(Exception):
    """A problem with the batch as asked (paths, options): one line for the user."""


@dataclass
class BatchOptions:
    submissions: Path
    out: Path
    exercises: list[str] | None = None  # None: every exercise in the registry
    workers: int | None = None  # None: every core
    timeout: float = SUBMISSION_SECONDS  # wall-clock seconds per submission
    call_timeout: float = 20.0  # one call into submitted code
    device: str = "cpu"
    seed: int | None = None  # None: each student's own, from the grading secret (grader/secret.py)
    resume: bool = False
    force: bool = False
    cluster: str | None = None  # tcp://host:port of a Dask scheduler
    cluster_timeout: float = 30.0  # seconds to wait for the scheduler to answer
    roster: Path | None = None
    canvas: bool = False
    assignment: str = "Transformer course"
    settings: dict[str, str] = field(default_factory=dict)
    sandbox: bool = True  # False: --no-sandbox, every result marked "graded without isolation"
    similarity: bool = False  # --similarity: similarity.csv and a section of report.html (grader.similarity)
    # Late work (grader.batch.late), applied when the outputs are written, never graded:
    # --resume with other values rewrites the outputs with them.
    deadline: str | None = None  # ISO 8601; None: no late columns at all
    late_policy: str | None = None  # the grammar in grader.batch.late; None with a deadline: "none"
    times: Path | None = None  # CSV of id, submitted_at


@dataclass
class BatchSummary:
    students: int
    graded_now: int
    reused: int
    graded: int
    errors: int
    full_marks: int
    mean_total: float
    max_total: float
    seconds: float
    workers: str
    out: Path
    unmatched: list[str] = field(default_factory=list)
    missing: int = 0
    retry: int = 0  # errors of the grader's own: --resume grades them again
    late_warnings: list[str] = field(default_factory=list)  # with --deadline: times without a submission, ...

    def line(self) -> str:
        rate = f", {self.seconds / self.graded_now:.2f} s per submission" if self.graded_now else ""
        reused = f" ({self.reused} from the journal)" if self.reused else ""
        return (
            f"{self.students} students{reused}: {self.graded} graded, {self.errors} could not be graded, "
            f"{self.full_marks} full marks, mean {self.mean_total:.3g}/{self.max_total:g}; "
            f"{self.seconds:.1f} s on {self.workers}{rate} -> {self.out}"
        )

    def to_json(self) -> dict:
        doc = dict(self.__dict__)
        doc["out"] = str(self.out)
        if not doc["late_warnings"]:
            del doc["late_warnings"]  # a batch without late trouble reports as before
        return doc


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...

    def advance(self, result: dict) -> None: ...

    def stop(self) -> None: ...


def _require_isolation(opts: BatchOptions) -> None:
    """Never grade a class without the jail unless told to (a Dask worker checks its own machine)."""
    if not opts.sandbox or opts.cluster:
        return
    from grader.jail import HOW_TO_ENABLE, probe

    reason = probe()
    if reason is not None:
        raise BatchError(
            f"this machine cannot isolate student code ({reason}); {HOW_TO_ENABLE}; "
            "or pass --no-sandbox to grade without isolation (every result is then marked so)"
        )


def _batch_seed(opts: BatchOptions, specs, out: Path) -> int:
    """``--seed`` when given, else this batch's own seed: derived from the grading secret and
    a nonce kept in RESULTS (made on the first run, read again by ``--resume``)."""
    from grader.secret import SecretUnavailable, batch_seeds

    if opts.seed is not None:
        return int(opts.seed)
    path = out / NONCE
    try:
        nonce = path.read_text().strip() if path.is_file() else ""
        if not nonce:
            import secrets

            nonce = secrets.token_hex(16)
            path.write_text(nonce + "\n")
        return batch_seeds(specs, nonce)
    except SecretUnavailable as exc:
        raise BatchError(str(exc)) from None
    except OSError as exc:
        raise BatchError(f"cannot keep this batch's seed in {path}: {exc.strerror or exc}") from None


def _prepare_out(opts: BatchOptions) -> None:
    out = opts.out
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out} exists and is not a folder")
    if out.exists() and any(p.name != LOCK for p in out.iterdir()):
        if opts.force:
            for name in OUTPUTS:
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        elif not opts.resume:
            raise BatchError(f"{out} is not empty: add --resume to continue that batch, or --force to start over")
    out.mkdir(parents=True, exist_ok=True)


def run_batch(opts: BatchOptions, progress: Progress | None = None) -> BatchSummary:
    submissions, out = opts.submissions.resolve(), opts.out.resolve()
    _check_options(opts, submissions, out)
    late = _late_settings(opts)
    roster = _load_roster(opts)
    registry, specs = _select_exercises(opts)
    job_options = JobOptions(
        exercises=[s.name for s in specs], device=opts.device, timeout=opts.timeout,
        call_timeout=opts.call_timeout, settings=dict(opts.settings),
        isolation=REQUIRED if opts.sandbox else OFF,
    )  # fmt: skip

    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out} exists and is not a folder")
    try:
        lock = lock_results(out)  # before anything in RESULTS is read or removed
    except JournalBusy as exc:
        raise BatchError(str(exc)) from None
    except OSError as exc:
        raise BatchError(f"cannot write RESULTS {out}: {exc.strerror or exc}") from None
    try:
        _prepare_out(opts)
        seed = _batch_seed(opts, specs, out)
    except BaseException:
        lock.close()
        raise
    journal = Journal(out, lock)

    start = time.monotonic()
    graded_now = 0
    try:
        entries = discover(submissions).entries
        if roster:  # an ambiguous match would put a score on another student's row: refuse before grading
            roster.assign(e.id for e in entries)
        previous = latest(read_journal(out / JOURNAL)) if opts.resume else {}
        # The seed is an option like any other: it enters the fingerprint, so --resume
        # regrades a student whose seed changed (another --seed, another secret).
        jobs, invalid, reused = _plan(entries, previous, dataclasses.replace(job_options, seed=seed), registry)
        if progress:
            progress.start(len(entries), reused)

        def on_result(result: dict) -> None:
            nonlocal graded_now
            try:
                journal.append(result)
            except OSError as exc:
                raise BatchError(f"cannot write the journal in {out}: {exc.strerror or exc}") from None
            graded_now += 1
            if progress:
                progress.advance(result)

        for result in invalid:
            on_result(result)
        workers = _grade(jobs, opts, out, on_result)
    finally:
        journal.close()
        if progress:
            progress.stop()
    seconds = time.monotonic() - start

    final = latest(read_journal(out / JOURNAL))
    lines = {e.id: final[e.id] for e in entries if e.id in final}
    labels = {e.id: e.label for e in entries}
    missing = []
    if roster:
        matched = {id(row) for row in (roster.match(sid) for sid in lines) if row is not None}
        missing = [roster.primary_id(r) for r in roster.rows if id(r) not in matched and roster.primary_id(r)]
    canvas_marks = {e.id: e.late for e in entries}
    results, unmatched = write_outputs(out, specs, lines, labels, roster, missing, opts, late, canvas_marks)

    totals = [s.total for s in results.submitted()]
    return BatchSummary(
        students=len(entries),
        graded_now=graded_now,
        reused=reused,
        graded=sum(1 for d in lines.values() if d.get("status") == GRADED),
        errors=sum(1 for d in lines.values() if d.get("status") == ERROR),
        full_marks=sum(1 for s in results.submitted() if s.total >= results.max_total > 0),
        mean_total=statistics.mean(totals) if totals else 0.0,
        max_total=results.max_total,
        seconds=seconds,
        workers=workers,
        out=out,
        unmatched=unmatched,
        missing=len(missing),
        retry=sum(1 for d in lines.values() if grader_failed(d)),
        late_warnings=_late_warnings(late, results),
    )


def _check_options(opts: BatchOptions, submissions: Path, out: Path) -> None:
    """Refuse a batch that cannot be run as asked, before anything is written."""
    if not submissions.is_dir():
        raise BatchError(f"SUBMISSIONS must be a folder with one entry per student: {opts.submissions}")
    if out == submissions or submissions in out.parents:
        raise BatchError("--out must not be inside SUBMISSIONS (it would be taken for a student)")
    if opts.canvas and not opts.roster:
        raise BatchError("--canvas needs --roster (a gradebook export from Canvas)")
    if opts.timeout <= 0 or opts.call_timeout <= 0:
        raise BatchError("--timeout and --call-timeout must be positive")
    _require_isolation(opts)


def _load_roster(opts: BatchOptions):
    if not opts.roster:
        return None
    from grader.batch.gradebook import RosterError, load_roster

    try:
        return load_roster(opts.roster)
    except RosterError as exc:
        raise BatchError(str(exc)) from None


def _select_exercises(opts: BatchOptions):
    """The registry and the exercises the batch grades, in course order."""
    from grader.api import load_registry
    from grader.registry import UnknownExercise

    registry = load_registry()
    try:
        specs = registry.select(opts.exercises)
    except UnknownExercise as exc:
        raise BatchError(str(exc)) from None
    if not specs:
        raise BatchError("no exercises are installed")
    return registry, specs


def _plan(entries, previous: dict, options: JobOptions, registry) -> tuple[list[dict], list[dict], int]:
    """The jobs to grade, the results of entries that cannot be graded (invalid archives,
    ...), and how many journal lines are reused as they are (``--resume``)."""
    fp = fingerprint(options, registry)
    jobs, invalid, reused = [], [], 0
    for entry in entries:
        if reusable(previous.get(entry.id), entry.digest, fp):
            reused += 1
            continue
        job = {
            "id": entry.id, "digest": entry.digest, "label": entry.label, "source": entry.source(),
            "options": options.to_json(), "fingerprint": fp,
        }  # fmt: skip
        if entry.kind == "invalid":
            invalid.append(error_result(job, entry.problem))
        else:
            jobs.append(job)
    return jobs, invalid, reused


def _grade(jobs: list[dict], opts: BatchOptions, out: Path, on_result) -> str:
    """Grade ``jobs`` on the cluster or the local pool; says which, for the summary."""
    if opts.cluster:
        from grader.batch.cluster import ClusterUnavailable, run_on_cluster

        try:
            run_on_cluster(opts.cluster, jobs, on_result, connect_timeout=opts.cluster_timeout)
        except ClusterUnavailable as exc:
            raise BatchError(str(exc)) from None
        return f"the cluster at {opts.cluster}"
    from grader.batch.engine import LocalPool, default_workers

    count = opts.workers or default_workers(opts.device)
    LocalPool(count, out / "logs").run(jobs, on_result)
    return f"{count} local worker{'s' * (count != 1)}"


def _late_warnings(late, results) -> list[str]:
    from grader.batch.late import warnings

    return warnings(late, results) if late is not None else []


def _late_settings(opts: BatchOptions):
    """The parsed --deadline/--late-policy/--times (None without a deadline); BatchError if unusable."""
    from grader.batch.late import LateError, settings

    if opts.deadline is None:
        if opts.late_policy is not None or opts.times is not None:
            raise BatchError("--late-policy and --times need --deadline (the time work was due)")
        return None
    try:
        return settings(opts.deadline, opts.late_policy, opts.times)
    except LateError as exc:
        raise BatchError(str(exc)) from None


def write_outputs(out: Path, specs, lines: dict[str, dict], labels: dict[str, str], roster=None, missing=(), opts=None,
                  late=None, canvas_marks=None):  # fmt: skip
    """Every output in RESULTS, from the journal lines alone. Returns (ClassResults, unmatched ids).

    ``late`` (grader.batch.late.LateSettings): penalties applied to the totals here, so a
    resumed batch applies the late options it is given without grading again;
    ``canvas_marks``: student id -> the Canvas late mark of their entry."""
    from grader.batch.feedback import feedback_text
    from grader.batch.gradebook import write_canvas, write_grades
    from grader.batch.gradescope import document
    from grader.batch.late import apply, with_penalty
    from grader.batch.junit import write_junit
    from grader.batch.records import build
    from grader.batch.report import write_report

    results = build(specs, lines, labels, missing)
    if late is not None:
        apply(late, results, canvas_marks or {})
    staging = out / ".students.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for student in results.submitted():
        folder = staging / student.id
        folder.mkdir()
        docs = [student.results[name].to_json() for name in results.names]
        (folder / "result.json").write_text(json.dumps(docs, indent=2) + "\n", encoding="utf-8")
        (folder / "feedback.txt").write_text(feedback_text(student, results), encoding="utf-8")
        gradescope = with_penalty(document(student, results), student.late)
        (folder / "results.json").write_text(json.dumps(gradescope, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out / "students", ignore_errors=True)
    os.replace(staging, out / "students")

    def atomic(name: str, write) -> None:
        tmp = out / f".{name}.tmp"
        write(tmp)
        os.replace(tmp, out / name)

    atomic("grades.csv", lambda p: write_grades(results, p, roster, late))
    unmatched: list[str] = []
    if opts is not None and opts.canvas and roster is not None:
        atomic("canvas.csv", lambda p: unmatched.extend(write_canvas(results, roster, p, opts.assignment)))
    atomic("junit.xml", lambda p: write_junit(results, p))
    sections = []
    if opts is not None and opts.similarity:  # copied work: read from SUBMISSIONS again, never run
        from grader.similarity.report import batch_section

        sections.append(batch_section(opts.submissions, specs, out))
    atomic("report.html", lambda p: write_report(results, p, sections))
    return results, unmatched
