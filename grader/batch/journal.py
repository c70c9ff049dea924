"""RESULTS/journal.jsonl: one JSON line per finished student, appended as each finishes.

Only the batch's parent process writes it. Each line is written whole, then flushed and
fsynced, so a batch killed at any moment (SIGKILL included) loses at most the line it
was writing; a torn last line is ignored on reading and cut off before appending.
An exclusive lock on RESULTS/.lock keeps two batches from writing the same journal.

``--resume`` reuses a line when its student id, submission digest and fingerprint (the
checks, solutions and options it was graded with) all match, and it records no failure
of the grader's own (a ``retry`` error, a check in status "error"). Later lines for the
same student win.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

JOURNAL = "journal.jsonl"
LOCK = ".lock"


class JournalBusy(RuntimeError):
    """Another batch holds the lock on this RESULTS folder."""


def read_journal(path: Path) -> list[dict]:
    """Every complete line of the journal, in order; a torn or garbled line is skipped."""
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # the line being written when the batch died
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            if isinstance(doc, dict) and "id" in doc:
                out.append(doc)
    return out


def latest(entries: list[dict]) -> dict[str, dict]:
    """The last journal line per student id."""
    out: dict[str, dict] = {}
    for doc in entries:
        out[doc["id"]] = doc
    return out


def reusable(doc: dict | None, digest: str, fingerprint: str) -> bool:
    """Whether ``--resume`` may keep this line instead of grading the student again."""
    return bool(
        doc is not None
        and doc.get("digest") == digest
        and doc.get("fingerprint") == fingerprint
        and not grader_failed(doc)
    )


def grader_failed(doc: dict) -> bool:
    """The line records a failure of the grader's, or one it could not pin on the submission:
    a ``retry`` error, or a check whose status is "error" (a reference worker or check that
    failed: see grader.results)."""
    if doc.get("retry"):
        return True
    exercises = doc.get("exercises") or []
    if not isinstance(exercises, list):
        return True  # not a line this grader wrote
    return any(
        not isinstance(ex, dict) or any(isinstance(c, dict) and c.get("status") == "error" for c in ex.get("checks", []))
        for ex in exercises
    )


def lock_results(results: Path):
    """Take RESULTS/.lock (an open file; closing it releases the lock) or raise JournalBusy."""
    results.mkdir(parents=True, exist_ok=True)
    lock = open(Path(results) / LOCK, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise JournalBusy(f"another grade batch is writing {results}") from None
    return lock


class Journal:
    """Appends results to RESULTS/journal.jsonl, durably, under an exclusive lock."""

    def __init__(self, results: Path, lock=None):
        self.path = Path(results) / JOURNAL
        self._lock = lock if lock is not None else lock_results(Path(results))
        self._cut_torn_tail()
        self._file = open(self.path, "ab")

    def _cut_torn_tail(self) -> None:
        """Drop a partial last line, so the next line starts on a line of its own."""
        if not self.path.exists():
            return
        with open(self.path, "r+b") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            # Find the last newline (scan back in blocks: lines are small).
            pos = size
            keep = 0
            while pos > 0:
                step = min(65536, pos)
                pos -= step
                f.seek(pos)
                block = f.read(step)
                idx = block.rfind(b"\n")
                if idx >= 0:
                    keep = pos + idx + 1
                    break
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())

    def append(self, doc: dict) -> None:
        line = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            finally:
                self._lock.close()
