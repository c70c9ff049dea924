"""How much a student's `grade exercise softmax` costs beyond one torch import.

    python benchmarks/startup_benchmark.py [--runs 5] [--exercise softmax] [--device cuda]

Runs `python -c "import torch"` and `grade exercise EXERCISE --submission <reference>`
alternately, several times each, and prints the medians and their ratio (the goal is
at most 1.3x). Timing is wall clock on whatever else the machine is doing: read the
figures as a ratio, not as absolute numbers.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--exercise", default="softmax")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()

    from grader.registry import load_registry

    spec = load_registry().get(args.exercise)
    grade = shutil.which("grade") or "grade"
    cwd = tempfile.mkdtemp()
    torch_cmd = [sys.executable, "-c", "import torch"]
    grade_cmd = [grade, "exercise", args.exercise, "--submission", str(spec.solution), "--json", "--device", args.device]
    wall(torch_cmd, cwd)  # warm the page cache for both
    wall(grade_cmd, cwd)
    torch_times, grade_times = [], []
    for _ in range(args.runs):
        torch_times.append(wall(torch_cmd, cwd))
        grade_times.append(wall(grade_cmd, cwd))
    t, g = statistics.median(torch_times), statistics.median(grade_times)
    print(f"python -c 'import torch'        median {t:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in torch_times)})")
    print(f"grade exercise {args.exercise:<16} median {g:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in grade_times)})")
    print(f"ratio grade / import torch: {g / t:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
