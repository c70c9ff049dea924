"""How fast `grade batch` grades a class, and where the time goes.

    python benchmarks/batch_benchmark.py [--students 60] [--workers 1,2] [--baseline 6] [--json out.json]
    python benchmarks/batch_benchmark.py --course [--students 12]     # every installed exercise

Writes N synthetic softmax submissions (60% correct, 25% wrong, 10% hostile: sys.exit at
import, os._exit in a call; one correct one prints 2 MB a call; a third of them zipped in an LMS layout) or,
with ``--course``, N folders holding every exercise (complete, halfway, hostile), then
reports:

- per worker count (1 .. all cores by default): wall time, seconds per submission, the
  slots' start-up, and throughput in the steady state;
- the checks' own compute: the time ``grader.runner.grade`` takes for each submission in
  its warm forked process (what ``grade exercise`` spends once started), against what
  the slot spent per submission in all (fork, unpack, find modules, grade, JSON, clean
  up) and against the workers' whole busy time -> the share spent outside the checks;
- peak memory of the whole process tree (psutil, sampled) and of the largest process;
- the end-to-end `grade batch` command (discovery, journal, every output file);
- throughput against running each submission in a fresh
  ``grade exercise softmax --submission X`` (``grade all --submission X``) process, one
  at a time and as many at once as there are workers.

Timings are wall clock on whatever else the machine is doing: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the class generator lives with the tests


class MemorySampler(threading.Thread):
    """Peak resident memory of this process and all its descendants (psutil if present)."""

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval, self.peak, self._halt = interval, 0, threading.Event()
        try:
            import psutil

            self.psutil = psutil
        except ImportError:
            self.psutil = None

    def run(self) -> None:
        if self.psutil is None:
            return
        me = self.psutil.Process()
        while not self._halt.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def jobs_for(subs: Path, exercises: list[str], isolation: str = "required", device: str = "cpu") -> list[dict]:
    from grader.batch.discover import discover
    from grader.batch.job import JobOptions, fingerprint

    options = JobOptions(exercises, device=device, timeout=300, call_timeout=10, isolation=isolation)
    fp = fingerprint(options)
    return [
        {"id": e.id, "digest": e.digest, "label": e.label, "source": e.source(), "options": options.to_json(),
         "fingerprint": fp}
        for e in discover(subs).entries
    ]  # fmt: skip


def run_pool(jobs: list[dict], workers: int, logs: Path) -> dict:
    from grader.batch.engine import LocalPool

    arrivals, results = [], []
    start = time.monotonic()

    def on_result(result: dict) -> None:
        arrivals.append(time.monotonic() - start)
        results.append(result)

    sampler = MemorySampler()
    sampler.start()
    cpu_before = _children_cpu()
    LocalPool(workers, logs).run(jobs, on_result)
    wall = time.monotonic() - start
    peak_tree = sampler.stop()
    # Every process of the pool (slots, their zygotes, workers, keepers and per-submission
    # children) has been waited for by now, so its CPU time is counted here: steadier than
    # wall time on a shared machine, and what bounds throughput once every core is busy.
    cpu = _children_cpu() - cpu_before
    slot = [r["timing"].get("slot", 0.0) for r in results]
    grade = [r["timing"].get("grade", 0.0) for r in results]
    # Start-up: when the first results could have begun (their arrival minus their own time).
    firsts = sorted(a - s for a, s in zip(arrivals, slot))[:workers]
    startup = max(firsts) if firsts else 0.0
    steady = max(wall - startup, 1e-9)
    return {
        "workers": workers,
        "wall_s": wall,
        "startup_s": startup,
        "per_submission_s": wall / len(jobs),
        "steady_per_submission_s": steady / len(jobs),
        "steady_throughput_per_s": len(jobs) / steady,
        "grade_s_total": sum(grade),
        "slot_s_total": sum(slot),
        "grade_s_mean": statistics.mean(grade),
        "slot_s_mean": statistics.mean(slot),
        "overhead_in_slot": (sum(slot) - sum(grade)) / sum(slot),
        "overhead_of_busy_time": (workers * steady - sum(grade)) / (workers * steady),
        "peak_tree_rss_mb": peak_tree / 1024**2,
        "cpu_s_total": cpu,
        "cpu_s_per_submission": cpu / len(jobs),
        "scores": {r["id"]: [e["score"] for e in r["exercises"]] for r in results},
    }


def _children_cpu() -> float:
    """User + system seconds of every descendant process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh_processes(files: list[Path], parallel: int, exercises: list[str] | None) -> float:
    """Seconds to grade ``files`` with a fresh ``grade`` process per exercise (``grade all``
    when ``exercises`` is None), ``parallel`` students at once."""
    grade = shutil.which("grade") or "grade"
    commands = [[grade, "all"]] if exercises is None else [[grade, "exercise", name] for name in exercises]

    def one(path: Path) -> None:
        for command in commands:
            subprocess.run([*command, "--submission", str(path), "--json", "--timeout", "10"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())  # fmt: skip

    start = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, files))
    return time.monotonic() - start


def main() -> None:
    from batch_fixtures.make_class import make_benchmark_class, make_course_class, make_pair_class

    from grader.batch.engine import default_workers
    from grader.registry import load_registry

    cores = default_workers()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=None, help="default: 60, or 12 with --course")
    parser.add_argument("--course", action="store_true", help="every installed exercise, not softmax alone")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the checks' tensors live")
    parser.add_argument("--pair", action="store_true",
                        help="softmax and attention per student: 60%% correct, 25%% buggy, 15%% raising (issue 10's class)")
    parser.add_argument("--workers", default=",".join(str(w) for w in sorted({1, max(1, cores // 2), cores})),
                        help="comma-separated worker counts (default: 1, half and all cores)")
    parser.add_argument("--baseline", type=int, default=6, help="submissions graded in fresh processes (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--isolation", default="required",
                        help="comma-separated: required (the jail, as grade batch) and/or off (as --no-sandbox); "
                             "'required,off' measures what the isolation costs")  # fmt: skip
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    subs = work / "submissions"
    if args.pair:
        specs = [s for s in load_registry().ordered() if s.name in ("softmax", "attention")]
        kinds = make_pair_class(subs, args.students or 20, specs)
        exercises = [s.name for s in specs]
    elif args.course:
        specs = load_registry().ordered()
        kinds = make_course_class(subs, args.students or 12, specs)
        exercises = [s.name for s in specs]
    else:
        kinds = make_benchmark_class(subs, args.students or 60)
        exercises = ["softmax"]
    modes = args.isolation.split(",")
    jobs = jobs_for(subs, exercises, modes[0], args.device)
    print(f"{len(jobs)} submissions ({', '.join(f'{k} {v}' for k, v in _count(kinds).items())}) of "
          f"{', '.join(exercises)}; {cores} cores", flush=True)  # fmt: skip

    report: dict = {"students": len(jobs), "cores": cores, "runs": []}
    for mode in modes:
        for w in counts:
            run = run_pool(jobs_for(subs, exercises, mode, args.device), w, work / f"logs-{mode}-{w}")
            run["isolation"] = mode
            report["runs"].append(run)
            print(
                f"isolation {mode}, workers {w:>2}: wall {run['wall_s']:6.1f} s = start-up {run['startup_s']:4.1f} s + steady "
                f"{run['steady_per_submission_s']:.3f} s/submission ({run['steady_throughput_per_s']:.2f}/s); "
                f"per submission: checks {run['grade_s_mean']:.3f} s, slot {run['slot_s_mean']:.3f} s; "
                f"outside the checks: {100 * run['overhead_in_slot']:.1f}% of slot time, "
                f"{100 * run['overhead_of_busy_time']:.1f}% of all worker time; CPU {run['cpu_s_per_submission']:.3f} s/submission "
                f"(all processes, start-up included: {run['cpu_s_total']:.1f} s); peak tree RSS {run['peak_tree_rss_mb']:.0f} MB",
                flush=True,
            )
    for w in counts:
        by_mode = {r["isolation"]: r for r in report["runs"] if r["workers"] == w}
        if "required" in by_mode and "off" in by_mode:
            on, off = by_mode["required"]["slot_s_mean"], by_mode["off"]["slot_s_mean"]
            print(f"isolation cost, {w} workers: {on - off:+.3f} s per submission in the slot "
                  f"({100 * (on - off) / off:+.1f}% of an unisolated submission's slot time)")  # fmt: skip
    report["runs"] = [r for r in report["runs"] if r["isolation"] == modes[0]] + \
        [r for r in report["runs"] if r["isolation"] != modes[0]]
    first = report["runs"][0]
    for run in [r for r in report["runs"][1:] if r["isolation"] == first["isolation"]]:
        speedup = first["steady_per_submission_s"] / run["steady_per_submission_s"]
        print(f"scaling 1 -> {run['workers']} workers: {speedup:.2f}x steady-state throughput "
              f"({100 * speedup / (run['workers'] / first['workers']):.0f}% efficiency)")  # fmt: skip
    same = all(r["scores"] == first["scores"] for r in report["runs"])
    print(f"same scores for every student at every worker count: {same}")
    report["same_scores"] = same

    out = work / "results"
    start = time.monotonic()
    subprocess.run([shutil.which("grade") or "grade", "batch", str(subs), "--out", str(out), "--exercises", ",".join(exercises),
                    "--workers", str(counts[-1]), "--timeout", "300", "--call-timeout", "10", "--no-progress",
                    "--device", args.device],
                   stdout=subprocess.DEVNULL, check=True)  # fmt: skip
    cli = time.monotonic() - start
    report["cli_all_cores_s"] = cli
    print(f"grade batch (CLI, {counts[-1]} workers, every output written): {cli:.1f} s, {cli / len(jobs):.3f} s/submission")

    if args.baseline:
        folders = args.course or args.pair
        files = sorted(subs.iterdir() if folders else subs.glob("*.py"))[: args.baseline]
        per_exercise = None if args.course else exercises
        seq = fresh_processes(files, 1, per_exercise) / len(files)
        par = fresh_processes(files, cores, per_exercise) / len(files)
        batch_1 = first["wall_s"] / len(jobs)
        batch_all = cli / len(jobs)
        report.update(fresh_sequential_s=seq, fresh_parallel_s=par)
        what = "grade all" if args.course else " + ".join(f"grade exercise {name}" for name in exercises)
        print(f"fresh `{what}` process per submission: {seq:.2f} s each one at a time, "
              f"{par:.2f} s each with {cores} at once")  # fmt: skip
        print(f"throughput, batch vs fresh processes: 1 worker {seq / batch_1:.1f}x (wall incl. start-up), "
              f"{seq / first['steady_per_submission_s']:.1f}x (steady); all {cores} cores {par / batch_all:.1f}x "
              f"(CLI end to end vs {cores} fresh processes at once)")  # fmt: skip
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest single process (ru_maxrss of children): {children:.0f} MB")
    report["largest_child_rss_mb"] = children
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def _count(kinds: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in kinds.values():
        out[k] = out.get(k, 0) + 1
    return out


if __name__ == "__main__":
    main()
