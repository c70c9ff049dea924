"""Seconds one warm slot spends on each kind of student, one after another on one core.

    python benchmarks/per_student.py [--students 20] [--course] [--no-cache]

Writes issue 10's class (softmax + attention: correct, known bugs, raising; with
``--course`` every exercise: complete, halfway, hostile), starts one batch slot in this
process and grades the students in turn, printing each one's kind, seconds and scores.
The first student of a kind pays for the reference replies the next ones share
(``--no-cache`` turns the sharing off, for comparison).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the class generator lives with the tests
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=None, help="default: 20, or 6 with --course")
    parser.add_argument("--course", action="store_true", help="every installed exercise")
    parser.add_argument("--no-cache", action="store_true", help="no reference replies shared between students")
    args = parser.parse_args()

    from batch_benchmark import jobs_for
    from batch_fixtures.make_class import make_course_class, make_pair_class

    from grader.batch.slot import Slot
    from grader.registry import load_registry

    work = Path(tempfile.mkdtemp(prefix="per-student-"))
    if args.course:
        specs = load_registry().ordered()
        kinds = make_course_class(work / "subs", args.students or 6, specs)
    else:
        specs = [s for s in load_registry().ordered() if s.name in ("softmax", "attention")]
        kinds = make_pair_class(work / "subs", args.students or 20, specs)
    jobs = jobs_for(work / "subs", [s.name for s in specs])
    start = time.monotonic()
    slot = Slot()
    print(f"slot ready in {time.monotonic() - start:.1f} s", flush=True)
    if args.no_cache:
        slot.reference_cache = None
    try:
        for job in jobs:
            start = time.monotonic()
            result = slot.grade(job, "")
            slot.cleanup()
            scores = ", ".join(f"{e['exercise']} {e['score']:g}" for e in result.get("exercises", [])) or result.get("error", "")
            print(f"{kinds[job['id']]:14s} {time.monotonic() - start:6.2f} s  {scores}", flush=True)
    finally:
        slot.zygote.close()


if __name__ == "__main__":
    main()
