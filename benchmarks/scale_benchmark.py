"""How `grade batch` grows with class size and worker count: local pool against Dask.

    python benchmarks/scale_benchmark.py [--sizes 100,1000] [--workers 1,2] [--modes pool,dask] [--json out.json]

For each class size it writes that many synthetic softmax submissions (the mix of
``batch_benchmark.py``: mostly correct, a quarter wrong, some hostile, a third zipped),
then grades them with :func:`grader.batch.run.run_batch` through the local pool and
through a Dask ``LocalCluster`` (one single-threaded worker process per slot; needs the
``cluster`` extra), and reports per run: wall time, seconds per submission, peak resident
memory of the whole process tree (psutil), and the journal's size. From two sizes it
derives the marginal cost of one more submission and the fixed cost (start-up, outputs),
and projects the wall time of a 1,000-student class at each worker count.

Timings are wall clock on whatever else the machine is doing: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the class generator lives with the tests
sys.path.insert(0, str(ROOT / "benchmarks"))


def grade(subs: Path, out: Path, workers: int, cluster: str | None) -> dict:
    from batch_benchmark import MemorySampler

    from grader.batch.run import BatchOptions, run_batch

    sampler = MemorySampler()
    sampler.start()
    start = time.monotonic()
    summary = run_batch(BatchOptions(subs, out, exercises=["softmax"], workers=workers, seed=1, cluster=cluster,
                                     call_timeout=10.0, timeout=120.0))  # fmt: skip
    wall = time.monotonic() - start
    peak = sampler.stop()
    journal = sum(p.stat().st_size for p in out.glob("journal*"))
    return {"wall_s": wall, "students": summary.students, "graded": summary.graded, "errors": summary.errors,
            "per_submission_s": wall / max(1, summary.students), "peak_tree_rss_mb": peak / 1024**2,
            "journal_kb": journal / 1024, "mean_total": summary.mean_total}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated class sizes")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--modes", default="pool,dask", help="pool, dask or both")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    counts = [int(w) for w in args.workers.split(",")]
    modes = args.modes.split(",")

    from batch_fixtures.make_class import make_benchmark_class

    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    runs = []
    try:
        for size in sizes:
            subs = work / f"class-{size}"
            make_benchmark_class(subs, size)
            for mode in modes:
                for w in counts:
                    out = work / f"out-{size}-{mode}-{w}"
                    if mode == "dask":
                        from distributed import LocalCluster

                        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                            run = grade(subs, out, w, cluster.scheduler_address)
                    else:
                        run = grade(subs, out, w, None)
                    run.update(size=size, mode=mode, workers=w)
                    runs.append(run)
                    print(f"{mode:>4} {w:>2} workers, {size:>5} submissions: wall {run['wall_s']:7.1f} s, "
                          f"{run['per_submission_s']:.3f} s/submission, peak tree RSS {run['peak_tree_rss_mb']:6.0f} MB, "
                          f"journal {run['journal_kb']:.0f} KB, {run['graded']} graded, {run['errors']} errors", flush=True)  # fmt: skip
                    shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(subs, ignore_errors=True)
        if len(sizes) >= 2:
            small, large = min(sizes), max(sizes)
            print(f"growth from {small} to {large} submissions (marginal cost of one more; fixed cost; 1,000 projected):")
            for mode in modes:
                for w in counts:
                    a = next(r for r in runs if (r["size"], r["mode"], r["workers"]) == (small, mode, w))
                    b = next(r for r in runs if (r["size"], r["mode"], r["workers"]) == (large, mode, w))
                    marginal = (b["wall_s"] - a["wall_s"]) / (large - small)
                    fixed = a["wall_s"] - marginal * small
                    memory = (b["peak_tree_rss_mb"] - a["peak_tree_rss_mb"]) / (large - small) * 1000
                    print(f"  {mode:>4} {w:>2} workers: {marginal:.3f} s per submission, fixed {fixed:5.1f} s, "
                          f"1,000 in {fixed + 1000 * marginal:6.0f} s; memory {memory:+.0f} MB per 1,000 submissions")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
