"""The local pool: one warm slot process per core, each grading one submission at a time.

Jobs go out one per slot (so a slow submission never holds up a queue behind it) and
results come back as they finish, to ``on_result`` in this process, which alone writes
the journal. A slot that dies is replaced; its student gets an "error" result marked
for retry, so ``--resume`` grades them again.
"""

from __future__ import annotations

import os
import selectors
import time
from collections import deque
from pathlib import Path
from typing import Callable

from grader.batch.job import error_result
from grader.batch.slot import GRACE, SlotDied, SlotProcess


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class LocalPool:
    """``workers`` slot processes on this machine."""

    def __init__(self, workers: int, log_dir: Path):
        self.workers = max(1, workers)
        self.log_dir = Path(log_dir)
        self.slots: list[SlotProcess] = []
        self.deaths_in_a_row = 0

    def _start_slot(self, index: int) -> SlotProcess:
        return SlotProcess(self.log_dir / f"slot-{index}.log")

    def run(self, jobs: list[dict], on_result: Callable[[dict], None]) -> None:
        """Grade every job; call ``on_result`` (in this thread) as each one finishes."""
        queue = deque(jobs)
        if not queue:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        selector = selectors.DefaultSelector()
        count = min(self.workers, len(queue))
        self.slots = [self._start_slot(i) for i in range(count)]
        busy = 0
        try:
            for index, slot in enumerate(self.slots):
                selector.register(slot.fileno(), selectors.EVENT_READ, index)
                slot.send(queue.popleft())
                busy += 1
            while busy:
                for key, _ in selector.select(timeout=1.0):
                    index = key.data
                    slot = self.slots[index]
                    try:
                        messages = slot.read_messages()
                    except SlotDied as died:
                        selector.unregister(key.fd)
                        busy -= 1
                        job = slot.job
                        slot.kill()
                        self.deaths_in_a_row += 1
                        if job is not None:
                            on_result(error_result(job, str(died), retry=True))
                        if self.deaths_in_a_row > 3 * count:
                            raise RuntimeError(f"grading slots keep dying ({died}); see {self.log_dir}")
                        if queue:
                            slot = self.slots[index] = self._start_slot(index)
                            selector.register(slot.fileno(), selectors.EVENT_READ, index)
                            slot.send(queue.popleft())
                            busy += 1
                        continue
                    for msg in messages:
                        if "result" not in msg:
                            continue
                        self.deaths_in_a_row = 0
                        slot.job = None
                        busy -= 1
                        on_result(msg["result"])
                        if queue:
                            slot.send(queue.popleft())
                            busy += 1
                self._stop_hung_slots()
        finally:
            selector.close()
            self.close()

    def _stop_hung_slots(self) -> None:
        """A slot enforces each job's time limit itself; one that overruns it by far is hung."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.job is None:
                continue
            limit = float(slot.job["options"].get("timeout", 300.0)) + GRACE
            if not slot.ready:
                limit += 180.0  # still importing torch: a loaded machine may take a while
            if now - slot.sent_at > limit:
                slot.kill()  # its stdout reaches EOF: the loop reports the job and replaces it

    def close(self) -> None:
        for slot in self.slots:
            slot.close()
        self.slots = []
