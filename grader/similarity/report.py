"""The library entry point of the similarity report, and similarity.csv.

    from grader.similarity.report import similarity_report, write_report
    report = similarity_report(Path("submissions"), ["softmax"])
    write_report(report, Path("R"))      # R/similarity.csv and R/similarity.html

``grade batch --similarity`` calls :func:`batch_section`, which writes similarity.csv into
RESULTS and returns the section report.html shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.discover import Entry, discover
from grader.batch.gradebook import SafeWriter
from grader.similarity.compare import Comparison, Document, Pair, compare
from grader.similarity.fingerprint import boilerplate, fingerprint_many
from grader.similarity.sources import Note, collect
from grader.spec import ExerciseSpec

CSV_NAME = "similarity.csv"
HTML_NAME = "similarity.html"
CSV_HEADER = ["exercise", "student_a", "student_b", "similarity_a", "similarity_b", "shared_fingerprints"]


class SimilarityError(Exception):
    """The report cannot be made as asked (paths, exercises): one line for the user."""


@dataclass
class SimilarityReport:
    comparisons: list[Comparison] = field(default_factory=list)  # one per exercise, in course order
    notes: list[Note] = field(default_factory=list)
    students: int = 0

    def pairs(self) -> list[Pair]:
        """Every listed pair of every exercise, most similar first."""
        order = {c.exercise: n for n, c in enumerate(self.comparisons)}
        everything = [p for c in self.comparisons for p in c.pairs]
        return sorted(everything, key=lambda p: (-p.similarity, -p.shared, order[p.exercise], p.student_a, p.student_b))


def analyze(entries: list[Entry], specs: list[ExerciseSpec], common_limit: int | None = None) -> SimilarityReport:
    """Compare the entries' files exercise by exercise (the stub's code never counts)."""
    sources = collect(entries, specs)
    report = SimilarityReport(notes=list(sources.notes), students=len(entries))
    stubs = {}
    for spec in specs:
        try:
            stubs[spec.name] = frozenset(boilerplate(spec.stub.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            stubs[spec.name] = frozenset()  # a plugin without a readable stub: nothing to exclude
    files = [(spec.name, student, text) for spec in specs for student, text in sorted(sources.texts[spec.name].items())]
    prints = fingerprint_many([(exercise, text) for exercise, _, text in files], stubs)
    documents: dict[str, list[Document]] = {spec.name: [] for spec in specs}
    for (exercise, student, text), print_ in zip(files, prints):
        if print_.note:
            report.notes.append(Note(student, exercise, print_.note))
        documents[exercise].append(Document(student, text, print_))
    for spec in specs:
        report.comparisons.append(compare(spec.name, documents[spec.name], common_limit))
    return report


def similarity_report(submissions: Path, exercises: list[str] | None = None,
                      common_limit: int | None = None) -> SimilarityReport:  # fmt: skip
    """Discover the students in ``submissions`` and compare them; SimilarityError for bad input."""
    from grader.registry import UnknownExercise, load_registry

    if not submissions.is_dir():
        raise SimilarityError(f"SUBMISSIONS must be a folder with one entry per student: {submissions}")
    try:
        specs = load_registry().select(exercises)
    except UnknownExercise as exc:
        raise SimilarityError(str(exc)) from None
    if not specs:
        raise SimilarityError("no exercises are installed")
    try:
        entries = discover(submissions).entries
    except OSError as exc:
        raise SimilarityError(f"cannot read {submissions}: {exc.strerror or exc}") from None
    return analyze(entries, specs, common_limit)


def write_csv(report: SimilarityReport, path: Path) -> None:
    """similarity.csv: one row per pair, most similar first (every cell through safe_cell)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(CSV_HEADER)
        for p in report.pairs():
            writer.writerow([p.exercise, p.student_a, p.student_b, round(p.similarity_a, 3), round(p.similarity_b, 3), p.shared])
    os.replace(tmp, path)


def write_report(report: SimilarityReport, out: Path) -> tuple[Path, Path]:
    """OUT/similarity.csv and OUT/similarity.html (a page of its own)."""
    from grader.similarity.html import page

    out.mkdir(parents=True, exist_ok=True)
    write_csv(report, out / CSV_NAME)
    tmp = out / f".{HTML_NAME}.tmp"
    tmp.write_text(page(report), encoding="utf-8")
    os.replace(tmp, out / HTML_NAME)
    return out / CSV_NAME, out / HTML_NAME


def batch_section(submissions: Path, specs: list[ExerciseSpec], out: Path) -> str:
    """For ``grade batch --similarity``: write RESULTS/similarity.csv, return report.html's section.

    Never raises: the grades are already written, and a failure here must not cost the
    report; it shows as the section's text instead."""
    from html import escape

    from grader.similarity.html import section

    try:
        report = analyze(discover(submissions).entries, specs)
        write_csv(report, out / CSV_NAME)
        return section(report)
    except Exception as exc:  # noqa: BLE001 - shown, never swallowed
        why = escape(f"{type(exc).__name__}: {exc}"[:500])
        return f'<section id="similarity"><h2>Similar submissions</h2><p class="error">The similarity report failed: {why}</p></section>'
