"""Past one machine: the same grading jobs handed to a Dask distributed cluster.

``grade batch SUBMISSIONS --out RESULTS --cluster tcp://scheduler:8786`` submits one
task per student to an existing scheduler. A task carries the submission's bytes (the
workers need not see SUBMISSIONS) and returns the same plain JSON result as the local
pool; results stream back as they finish into the same journal and outputs.

On each Dask worker the task is graded exactly as on the local pool: a warm slot process
(grader.batch.slot), started lazily the first time the worker gets a task and kept for
the next ones, forks a fresh trusted process per submission and enforces its time limit.
The worker process itself, which runs Dask's threads, never forks. Every worker needs
the course kit installed (the same version: a worker whose checks or solutions differ
refuses the task, and ``--resume`` regrades it once fixed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Callable

from grader.batch.discover import is_junk
from grader.batch.job import error_result

# ---------------------------------------------------------------------- on the worker

_lock = threading.Lock()
_idle: list = []  # warm SlotProcess objects not in use (one per concurrent task)


def _acquire():
    from grader.batch.slot import SlotProcess

    with _lock:
        if _idle:
            return _idle.pop()
    log = Path(tempfile.gettempdir()) / f"grader-dask-slot-{os.getpid()}-{uuid.uuid4().hex[:8]}.log"
    return SlotProcess(log)


def _release(slot) -> None:
    with _lock:
        _idle.append(slot)


def grade_on_worker(job: dict) -> dict:
    """The Dask task: grade one portable job in this worker's warm slot."""
    from grader.batch.slot import SlotDied

    scratch = Path(tempfile.mkdtemp(prefix="grader-dask-job-"))
    slot = None
    try:
        # The batch's folders stay hidden from student code where they exist here too
        # (a cluster on the batch's own machine); elsewhere hiding them is a no-op.
        local = dict(job, source=unpack_portable(job["source"], scratch))
        slot = _acquire()
        try:
            result = slot.run(local)
        except SlotDied as died:
            slot.kill()
            slot = None
            return error_result(job, str(died), retry=True)
        return result
    finally:
        if slot is not None:
            _release(slot)
        shutil.rmtree(scratch, ignore_errors=True)


def unpack_portable(source: dict, scratch: Path) -> dict:
    """Write a portable source's blobs under ``scratch``; return a local source."""
    kind = source["kind"]
    blobs = source.get("blobs", [])
    if kind == "invalid":
        return dict(source)
    if kind == "dir":
        root = scratch / _safe(source["names"][0])
        root.mkdir(parents=True)
        for rel, data in blobs:
            parts = [p for p in rel.split("/") if p not in ("", ".")]
            if not parts or any(p == ".." for p in parts):
                continue
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return {"kind": "dir", "paths": [str(root)], "names": list(source["names"])}
    paths = []
    for i, (name, data) in enumerate(blobs):
        folder = scratch / str(i)
        folder.mkdir()
        target = folder / _safe(name)
        target.write_bytes(data)
        paths.append(str(target))
    return {"kind": kind, "paths": paths, "names": [n for n, _ in blobs]}


def _safe(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/"))
    return base if base not in ("", ".", "..") else "submission"


# ---------------------------------------------------------------------- on the client


def portable(job: dict) -> dict:
    """The job with its submission's bytes inside, for a worker that cannot see our disk."""
    source = job["source"]
    kind = source["kind"]
    out = dict(source)
    out.pop("paths", None)
    if kind == "dir":
        root = Path(source["paths"][0])
        blobs = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not is_junk(d))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if is_junk(name) or path.is_symlink() or not path.is_file():
                    continue
                blobs.append([path.relative_to(root).as_posix(), path.read_bytes()])
        out["blobs"] = blobs
    elif kind in ("zip", "file", "files"):
        out["blobs"] = [[name, Path(p).read_bytes()] for p, name in zip(source["paths"], source["names"])]
    return dict(job, source=out)


class ClusterUnavailable(RuntimeError):
    """No scheduler at the address, or the distributed package is missing."""


def run_on_cluster(address: str, jobs: list[dict], on_result: Callable[[dict], None], connect_timeout: float = 30.0) -> None:
    """Grade ``jobs`` on the Dask scheduler at ``address``; ``on_result`` per finished job."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ClusterUnavailable(
            "--cluster needs the distributed package: pip install 'transformer-course-grader[cluster]'"
        ) from None
    if not jobs:
        return
    try:
        client = Client(address, timeout=connect_timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(f"cannot reach a Dask scheduler at {address}: {exc}") from None
    except ValueError as exc:  # a malformed address
        raise ClusterUnavailable(f"--cluster {address}: {exc} (expected tcp://HOST:PORT)") from None
    try:
        threads = sum(client.nthreads().values()) or 1
        window = max(8, 2 * threads)  # keep the workers fed without shipping the whole class at once
        pending = list(jobs)
        by_key: dict[str, dict] = {}
        run_id = uuid.uuid4().hex[:8]

        def submit(job: dict):
            key = f"grade-{job['id']}-{run_id}"
            by_key[key] = job
            return client.submit(grade_on_worker, portable(job), key=key, pure=False)

        flow = as_completed([submit(pending.pop(0)) for _ in range(min(window, len(pending)))])
        for future in flow:
            job = by_key.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # a worker died, the task was lost, ...
                result = error_result(job, f"the cluster could not grade this submission: {type(exc).__name__}: {exc}", retry=True)
            future.release()
            on_result(result)
            if pending:
                flow.add(submit(pending.pop(0)))
    finally:
        client.close()
