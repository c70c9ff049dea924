"""How fast `grade exercise softmax --watch` answers after a save.

    python benchmarks/watch_benchmark.py [--saves 15] [--exercise softmax] [--pause 1.0] [--kit]

Starts `grade exercise EXERCISE --submission <copy of the reference> --watch --json` once,
waits for its first result (the cold start: torch, zygote, registry), then saves the file
SAVES times, a PAUSE apart, and for each save measures the wall time from the write to the
result's JSON line on stdout: the latency a student sees (file event, debounce, one forked
worker, the checks, the JSON). Prints the median, 90th percentile and worst (goal for
softmax: median <= 0.3 s). Each save really changes the file (a comment line alternates),
as an editor's save does.

Where solutions are installed (the course), the reference is live: a second worker per run,
and hidden checks too. ``--kit`` measures what a student sees instead: it first builds a
kit of EXERCISE with ``grade release`` (installed in a fresh venv, as the release verifies
it) and watches there, where the reference is replayed from its recording.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        raise SystemExit(f"no result within {timeout:.0f} s")
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"grade --watch ended (exit {proc.wait()}): {proc.stderr.read()[-2000:]}")
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=15)
    parser.add_argument("--exercise", default="softmax")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between saves")
    parser.add_argument("--kit", action="store_true", help="watch in a freshly built student kit")
    args = parser.parse_args()

    from grader.registry import load_registry

    spec = load_registry().get(args.exercise)
    source = spec.solution if spec.has_solution else spec.stub
    grade = shutil.which("grade") or "grade"
    env = None
    work = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    if args.kit:
        from grader.release import build_kit, kit_env

        print(f"building a kit of {args.exercise} in {work / 'kit'} ...", flush=True)
        report = build_kit(work / "kit", [args.exercise], venv_dir=work / "venv", mistakes=0)
        if not report.ok:
            raise SystemExit("the kit failed its verification:\n" + "\n".join(report.problems))
        grade, env = str(work / "venv" / "bin" / "grade"), kit_env(work / "venv")
    target = work / Path(source).name
    original = Path(source).read_text()
    target.write_text(original)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [grade, "exercise", args.exercise, "--submission", str(target), "--watch", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work, bufsize=1, env=env,
    )  # fmt: skip
    try:
        first = json.loads(read_line(proc, 300))
        cold = time.perf_counter() - start
        times, scores = [], []
        for i in range(args.saves):
            time.sleep(args.pause)
            saved = time.perf_counter()
            target.write_text(original + ("\n# save %d\n" % i))
            doc = json.loads(read_line(proc, 60))
            times.append(time.perf_counter() - saved)
            scores.append(doc["score"])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    where = "in a student kit (replayed reference)" if args.kit else "in the course (live reference, hidden checks)"
    print(f"grade exercise {args.exercise} --watch {where}, on {os.cpu_count()} CPUs, {sys.platform}")
    print(f"first result (cold start): {cold:.2f} s, score {first['score']:g}/{first['max_score']:g}")
    print(f"re-grade after a save, {len(times)} saves: median {statistics.median(times):.3f} s, "
          f"p90 {p90:.3f} s, worst {times[-1]:.3f} s (goal: median <= 0.3 s)")
    print(f"  runs: {', '.join(f'{t:.3f}' for t in times)}")
    if len(set(scores)) != 1 or scores[0] != first["score"]:
        print(f"  warning: scores changed between saves: {scores}")


if __name__ == "__main__":
    main()
