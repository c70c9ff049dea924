"""Each student's file for each exercise, as text: found the way the batch finds it, never run.

Submissions are discovered (grader.batch.discover) and unpacked into a scratch folder
(grader.batch.unpack: its caps on size, file count, zip bombs and unsafe paths hold here
too), and each exercise's module is found as grading finds it (``resolve``; a notebook's
code cells through grader.notebooks). The file is then only read: a file that is too large,
binary or not UTF-8 is skipped with a note, never compared half-read.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.discover import Entry
from grader.batch.unpack import UnpackError, materialize, resolve
from grader.spec import ExerciseSpec

# A module compared, past which it is generated or padded: what a student wrote is held to
# grader.submission.MAX_SOURCE_BYTES already; a module made from a notebook adds its cells'
# markers and map to that (10,000 cells of "pass": 0.4 MB).
MAX_SOURCE_BYTES = 1024**2


@dataclass(frozen=True)
class Note:
    """Why a student's file (or whole submission: exercise "") was not compared."""

    student: str
    exercise: str
    text: str


@dataclass
class Sources:
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # exercise -> student -> source
    notes: list[Note] = field(default_factory=list)


class SourceSkipped(Exception):
    """This file is not compared (one line: why)."""


def read_source(path: Path, limit: int = MAX_SOURCE_BYTES) -> str:
    """The text of a student's module, or SourceSkipped saying why not."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise SourceSkipped(f"{path.name} is {size / 1024**2:.1f} MB, more than the {limit // 1024} kB compared")
        data = path.read_bytes()
    except OSError as exc:
        raise SourceSkipped(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise SourceSkipped(f"{path.name} is a binary file, not Python source")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceSkipped(f"{path.name} is not UTF-8 text") from None


def collect(entries: list[Entry], specs: list[ExerciseSpec], limit: int = MAX_SOURCE_BYTES) -> Sources:
    """The source of every entry's module for every spec, and a note for each one skipped."""
    found = Sources({s.name: {} for s in specs})
    by_module = {s.module: s for s in specs}
    scratch = Path(tempfile.mkdtemp(prefix="grader-similarity-"))
    try:
        for n, entry in enumerate(entries):
            if entry.kind == "invalid":
                found.notes.append(Note(entry.id, "", entry.problem))
                continue
            root = scratch / str(n)
            try:
                materialize(entry.source(), root)
            except UnpackError as exc:
                found.notes.append(Note(entry.id, "", str(exc)))
                continue
            except OSError as exc:
                found.notes.append(Note(entry.id, "", f"cannot read the submission: {exc.strerror or exc}"))
                continue
            submission = resolve(root, specs, specs, entry.label, single_file=entry.kind == "file")
            try:
                for module, why in submission.problems.items():
                    found.notes.append(Note(entry.id, by_module[module].name, why))
                for module, path in submission.files.items():
                    spec = by_module[module]
                    try:
                        found.texts[spec.name][entry.id] = read_source(Path(path), limit)
                    except SourceSkipped as exc:
                        found.notes.append(Note(entry.id, spec.name, str(exc)))
            finally:
                submission.cleanup()
                shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return found
