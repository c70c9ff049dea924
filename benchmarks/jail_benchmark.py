"""What the jail costs one student worker: fork from the warm zygote to its hello, with and without.

    python benchmarks/jail_benchmark.py [--workers 40]

Alternates isolated and unisolated workers (so both see the same machine load), each
loading the reference softmax as its submission, and reports the median and 90th
percentile time from the spawn request to the worker's hello, and the difference. A
softmax submission costs one such worker (more when it crashes one).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from grader.jail import JailPolicy, probe
    from grader.live import WorkerProcess
    from grader.sandbox import OFF, REQUIRED
    from grader.boundary import WorkerConfig
    from grader.zygote import Zygote

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=40, help="workers per mode")
    args = parser.parse_args()
    reason = probe()
    if reason:
        raise SystemExit(f"no isolation on this machine: {reason}")
    zygote = Zygote()
    zygote.wait_ready()
    logs = tempfile.mkdtemp(prefix="jail-bench-")
    submission = str(ROOT / "solutions" / "softmax.py")
    times: dict[str, list[float]] = {OFF: [], REQUIRED: []}
    try:
        for i in range(args.workers * 2):
            mode = (OFF, REQUIRED)[i % 2]
            config = WorkerConfig("student", "softmax", {"softmax": submission}, f"{logs}/{i}.log",
                                  jail=JailPolicy(read_only=(submission,)), isolation=mode)  # fmt: skip
            start = time.perf_counter()
            worker = WorkerProcess(zygote, config)
            times[mode].append(time.perf_counter() - start)
            assert worker.hello[0].get("ready"), worker.hello
            worker.kill()
    finally:
        zygote.close()
    for mode, values in times.items():
        values.sort()
        print(f"isolation {mode:>8}: median {1000 * statistics.median(values):6.1f} ms, "
              f"p90 {1000 * values[int(0.9 * len(values))]:6.1f} ms to the worker's hello ({len(values)} workers)")  # fmt: skip
    cost = statistics.median(times[REQUIRED]) - statistics.median(times[OFF])
    print(f"the jail costs {1000 * cost:+.1f} ms per worker (median difference)")


if __name__ == "__main__":
    main()
