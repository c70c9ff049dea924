"""How many calls into the reference each exercise makes live, with and without shared replies.

    python benchmarks/reference_calls.py [--seed 5]

Grades each exercise's reference solution three times in one process with a reply cache
(grader.refcache), as three students of one batch slot would be graded, and reports the
live reference calls and the seconds they took: the first student computes every reply;
the next ones, whose checks ask the same in the same order (replies are keyed by the chain
of requests that led to them), start no reference worker at all.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from grader import api, live
    from grader.registry import load_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    spent: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    roundtrip = live.LiveTransport.roundtrip

    def counted(self, key, doc, blob):
        start = time.perf_counter()
        try:
            return roundtrip(self, key, doc, blob)
        finally:
            spent[self.role] += time.perf_counter() - start
            calls[self.role] += 1

    live.LiveTransport.roundtrip = counted
    cache = tempfile.mkdtemp(prefix="reference-replies-")
    for spec in load_registry().ordered():
        line = [f"{spec.name:20s}"]
        for student in range(3):
            spent.clear()
            calls.clear()
            options = api.GradeOptions(seed=args.seed, reference_cache=cache)
            result = api.grade_exercise(spec.name, Path(spec.solution), options)
            assert result.score == result.max_score, result
            line.append(f"student {student + 1}: {calls['reference']:5d} live calls {spent['reference']:5.2f} s")
        print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
