"""The local pool: one warm slot process per core, each grading one submission at a time.

Each slot holds the job it is grading and, while plenty remain, the next one, so it
never waits for this process between two students; near the end of the batch a slot
gets a job only when it is free, so a slow submission holds nothing up behind it.
Results come back as they finish, to ``on_result`` in this process, which alone writes
the journal. A slot that dies is replaced: its current student gets an "error" result
marked for retry (``--resume`` grades them again), its queued one goes back in line.
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

# A slot that has not said "ready" may still be importing torch on a loaded machine.
START_GRACE = 180.0


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

        def feed(slot: SlotProcess) -> None:
            # Two jobs per slot while more remain than there are slots; one near the end.
            while queue and len(slot.jobs) < (2 if len(queue) > count else 1):
                slot.send(queue.popleft())

        try:
            for index, slot in enumerate(self.slots):
                selector.register(slot.fileno(), selectors.EVENT_READ, index)
                feed(slot)
            while any(slot.jobs for slot in self.slots):
                for key, _ in selector.select(timeout=1.0):
                    index = key.data
                    slot = self.slots[index]
                    try:
                        messages = slot.read_messages()
                    except SlotDied as died:
                        selector.unregister(key.fd)
                        slot.kill()
                        self.deaths_in_a_row += 1
                        if slot.jobs:
                            on_result(error_result(slot.jobs.popleft(), str(died), retry=True))
                            queue.extendleft(reversed(slot.jobs))  # queued, never started
                        if self.deaths_in_a_row > 3 * count:
                            raise RuntimeError(f"grading slots keep dying ({died}); see {self.log_dir}")
                        if queue:
                            slot = self.slots[index] = self._start_slot(index)
                            selector.register(slot.fileno(), selectors.EVENT_READ, index)
                            feed(slot)
                        continue
                    for msg in messages:
                        if "result" in msg:
                            self.deaths_in_a_row = 0
                            on_result(msg["result"])
                    feed(slot)
                self._stop_hung_slots()
        except BaseException:
            # Interrupted (Ctrl-C) or the journal failed: stop now, do not wait for slots.
            for slot in self.slots:
                slot.kill()
            raise
        finally:
            selector.close()
            self.close()

    def _stop_hung_slots(self) -> None:
        """A slot enforces each job's time limit itself; one that overruns it by far is hung."""
        now = time.monotonic()
        for slot in self.slots:
            if not slot.jobs:
                continue
            limit = float(slot.jobs[0]["options"].get("timeout", 300.0)) + GRACE
            if not slot.ready:
                limit += START_GRACE
            if now - slot.started_at > limit:
                slot.kill()  # its stdout reaches EOF: the loop reports the job and replaces it

    def close(self) -> None:
        for slot in self.slots:
            slot.close()
        self.slots = []
