"""The progress bar on stderr (rich): done / total, rate, ETA, failures so far."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from grader.batch.job import ERROR


class RichProgress:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.bar = Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[failures]}"),
            console=self.console,
            transient=False,
        )
        self.task = None
        self.started = 0.0
        self.finished_here = 0
        self.errors = 0
        self.below_full = 0

    def start(self, total: int, done: int) -> None:
        self.started = time.monotonic()
        self.bar.start()
        self.task = self.bar.add_task("grading", total=total, completed=done, rate="", failures="")

    def advance(self, result: dict) -> None:
        self.finished_here += 1
        if result.get("status") == ERROR:
            self.errors += 1
        elif any(ex.get("score", 0) < ex.get("max_score", 0) for ex in result.get("exercises", [])):
            self.below_full += 1
        elapsed = time.monotonic() - self.started
        rate = f"{self.finished_here / elapsed:.2f}/s" if elapsed > 0 else ""
        failures = f"errors {self.errors} · below full marks {self.below_full}"
        self.bar.update(self.task, advance=1, rate=rate, failures=failures)

    def stop(self) -> None:
        self.bar.stop()
