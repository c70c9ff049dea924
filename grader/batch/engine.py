"""The local pool: one warm slot process per core, each grading one submission at a time.

Each slot holds the job it is grading and, while plenty remain, the next one, so it
never waits for this process between two students; near the end of the batch a slot
gets a job only when it is free, so a slow submission holds nothing up behind it.
Results come back as they finish, to ``on_result`` in this process, which alone writes
the journal.

Nothing a job does can stop the batch. A slot that dies, sends anything but a result
for its job with that job's token (see grader.batch.slot), or stops answering past the
job's time limit + GRACE (the watchdog: a SIGSTOPped or deadlocked slot) is killed and
replaced. Its current job is graded once more; a second failure of the grader's own is
recorded as an "error" marked ``retry`` (``--resume`` grades it again), never blamed on
the submission. Its queued job goes back in line.
"""

from __future__ import annotations

import os
import selectors
import shutil
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Callable

from grader.batch.job import SUBMISSION_SECONDS, error_result
from grader.batch.slot import GRACE, SlotDied, SlotProcess, SlotUntrusted

# A slot that has not said "ready" may still be importing torch on a loaded machine.
START_GRACE = 180.0
# Tries per job when the grader (not the submission) fails: the first, and one on a fresh start.
MAX_ATTEMPTS = 2


# Slots per GPU when --device cuda: each slot's processes (the submission's process and its
# student and reference workers) hold a CUDA context of their own, and the checks' kernels
# are tiny, so more slots than this mostly queue on the card and on its contexts' memory.
SLOTS_PER_GPU = 4


def default_workers(device: str = "cpu") -> int:
    """One slot per core; with a GPU, at most SLOTS_PER_GPU per visible card."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cores = max(1, os.cpu_count() or 1)
    if device == "cpu":
        return cores
    import torch

    # This process never forks a slot (they are started afresh), so asking CUDA here is safe.
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return min(cores, SLOTS_PER_GPU * gpus) if gpus else cores


class LocalPool:
    """``workers`` slot processes on this machine."""

    def __init__(self, workers: int, log_dir: Path):
        self.workers = max(1, workers)
        self.log_dir = Path(log_dir)
        self.slots: list[SlotProcess] = []
        self.start_failures = 0  # slots that died before saying "ready", in a row
        # Reference replies shared by every slot of a run (grader.refcache): a reply one
        # slot computed for its first students, the others never compute again.
        self.reference_cache: Path | None = None

    def _start_slot(self, index: int) -> SlotProcess:
        return SlotProcess(self.log_dir / f"slot-{index}.log", self.reference_cache)

    def run(self, jobs: list[dict], on_result: Callable[[dict], None]) -> None:
        """Grade every job; call ``on_result`` (in this thread) as each one finishes."""
        if not jobs:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Private to this user (mkdtemp): no submission's worker is shown it (grader.jail).
        self.reference_cache = Path(tempfile.mkdtemp(prefix="grader-replies-"))
        try:
            _Run(self, deque(jobs), on_result).loop()
        finally:
            shutil.rmtree(self.reference_cache, ignore_errors=True)
            self.reference_cache = None

    def _check_start(self, slot: SlotProcess, died: SlotDied, count: int) -> None:
        """Slots that cannot even start mean a broken install, not a bad submission: stop."""
        if slot.ready:
            self.start_failures = 0
            return
        self.start_failures += 1
        if self.start_failures > 3 * count:
            raise RuntimeError(f"grading slots keep dying before they are ready ({died}); see {self.log_dir}")

    def close(self) -> None:
        for slot in self.slots:  # every slot winds down at once, not one after another
            slot.end_input()
        for slot in self.slots:
            slot.close()
        self.slots = []


class _Run:
    """One LocalPool.run: the queue, the slots' selector and each job's failed attempts."""

    def __init__(self, pool: LocalPool, queue: deque, on_result: Callable[[dict], None]):
        self.pool, self.queue, self.on_result = pool, queue, on_result
        self.count = min(pool.workers, len(queue))
        self.failures: dict[str, int] = {}  # job id -> attempts that ended in the grader's failure
        self.selector = selectors.DefaultSelector()

    def loop(self) -> None:
        pool = self.pool
        pool.slots = []
        try:
            for index in range(self.count):
                pool.slots.append(self._start(index))
            while any(slot.jobs for slot in pool.slots) or self.queue:
                for key, _ in self.selector.select(timeout=1.0):
                    self._read(key.data)
                self._stop_hung_slots()
                self._restart_idle()
        except BaseException:
            # Interrupted (Ctrl-C) or the journal failed: stop now, do not wait for slots.
            for slot in pool.slots:
                slot.kill()
            raise
        finally:
            self.selector.close()
            pool.close()

    def _start(self, index: int) -> SlotProcess:
        slot = self.pool._start_slot(index)
        self.selector.register(slot.fileno(), selectors.EVENT_READ, index)
        self._feed(slot)
        return slot

    def _feed(self, slot: SlotProcess) -> None:
        # Two jobs per slot while more remain than there are slots; one near the end.
        while self.queue and len(slot.jobs) < (2 if len(self.queue) > self.count else 1):
            slot.send(self.queue.popleft())

    def _read(self, index: int) -> None:
        slot = self.pool.slots[index]
        try:
            messages = slot.read_messages()
        except SlotUntrusted as bad:
            self._deliver(bad.accepted)
            self._replace(index, bad)
            return
        except SlotDied as died:
            self._replace(index, died)
            return
        self._deliver(messages)
        self._feed(slot)

    def _deliver(self, messages: list[dict]) -> None:
        for msg in messages:
            if "result" not in msg:
                continue
            result = msg["result"]
            if result.get("retry"):
                # The grader's own failure (its process died, a kit mismatch): try again.
                self._failed(msg["job"], result, result.get("error", ""))
            else:
                self.on_result(result)

    def _failed(self, job: dict, result: dict | None, reason: str) -> None:
        """A job the grader failed on: once more on a fresh start, then an error of the grader's."""
        self.failures[job["id"]] = attempts = self.failures.get(job["id"], 0) + 1
        if attempts < MAX_ATTEMPTS:
            self.queue.appendleft(job)
            return
        if result is None:
            result = error_result(job, reason, retry=True)
        result["error"] = (
            f"{reason} (on {attempts} tries: a failure of the grader, not of the submission's code; "
            "grade batch --resume grades it again)"
        )
        self.on_result(result)

    def _replace(self, index: int, died: SlotDied) -> None:
        """Kill a slot that died, hung or lied; retry its job; start another if work remains."""
        slot = self.pool.slots[index]
        try:
            self.selector.unregister(slot.fileno())
        except (KeyError, ValueError):
            pass
        slot.kill()
        self.pool._check_start(slot, died, self.count)
        queued = list(slot.jobs)
        slot.jobs.clear()
        if queued and slot.ready:
            current, queued = queued[0], queued[1:]
        else:
            current = None  # a slot that never got ready started none of its jobs
        self.queue.extendleft(reversed(queued))  # never started: back in line, first
        if current is not None:
            self._failed(current, None, str(died))
        self.pool.slots[index] = self._start(index) if self.queue else slot

    def _restart_idle(self) -> None:
        """Work left but every live slot busy or dead: a dead one left idle gets replaced."""
        for index, slot in enumerate(self.pool.slots):
            if self.queue and not slot.jobs and slot.proc.poll() is not None:
                self.pool.slots[index] = self._start(index)
            elif self.queue and not slot.jobs:
                self._feed(slot)

    def _stop_hung_slots(self) -> None:
        """The watchdog: a slot enforces each job's time limit itself; one far past it is hung
        (deadlocked, SIGSTOPped): kill it, retry its job, start another."""
        now = time.monotonic()
        for index, slot in enumerate(self.pool.slots):
            if not slot.jobs:
                continue
            limit = float(slot.jobs[0]["options"].get("timeout", SUBMISSION_SECONDS)) + GRACE
            if not slot.ready:
                limit += START_GRACE
            if now - slot.started_at > limit:
                self._replace(index, SlotDied(f"the grading slot stopped answering for {limit:.0f} s"))
