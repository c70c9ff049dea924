"""One grading job: a student's submission in, a JSON-able result out.

A job is a plain dict, so it crosses a pipe to a local slot or a Dask scheduler alike::

    {"id": "alice", "digest": "<sha256 of the submission>", "label": "alice.zip",
     "source": {"kind": "zip", "paths": [...], "names": [...]},   # see grader.batch.discover
     "options": {...JobOptions...}, "fingerprint": "<sha256 of checks, solutions, options>"}

:func:`grade_job` runs in a trusted process forked for this one submission (see
grader.batch.slot): it unpacks the submission into a scratch folder, finds its modules,
and calls :func:`grader.runner.grade` once. The result (one line of the journal)::

    {"id", "digest", "fingerprint", "status": "graded" | "error", "error": "",
     "retry": false, "exercises": [<grade exercise --json document>, ...], "seed": <the options' seed>,
     "timing": {"total": s, "grade": s}, "host": "..."}

``status`` is "error" when the submission could not be graded at all (unreadable zip,
past its time limit); ``retry`` marks errors that were not the submission's fault (the
grader's own machinery failed) so that ``--resume`` grades them again.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.sandbox import OFF, REQUIRED, Limits

GRADED, ERROR, MISSING = "graded", "error", "missing"
# The default wall-clock limit for grading one whole submission, all its exercises.
SUBMISSION_SECONDS = 300.0


@dataclass
class JobOptions:
    """How every submission of a batch is graded. All of it enters the fingerprint."""

    exercises: list[str]
    device: str = "cpu"  # the same on every machine, so a score never depends on it
    seed: int = 0
    timeout: float = SUBMISSION_SECONDS  # wall-clock seconds for one whole submission (all exercises)
    call_timeout: float = Limits.call_seconds  # one call into submitted code
    memory_bytes: int = Limits.memory_bytes
    output_bytes: int = Limits.output_bytes
    settings: dict[str, str] = field(default_factory=dict)
    # "required": a machine that cannot jail student workers grades nobody; "off": --no-sandbox.
    isolation: str = REQUIRED

    def __post_init__(self) -> None:
        # One spelling per value, so equal options always give the same fingerprint.
        self.exercises = [str(n) for n in self.exercises]
        self.timeout, self.call_timeout = float(self.timeout), float(self.call_timeout)
        self.seed, self.memory_bytes, self.output_bytes = int(self.seed), int(self.memory_bytes), int(self.output_bytes)
        self.settings = {str(k): str(v) for k, v in self.settings.items()}

    def limits(self) -> Limits:
        # One exercise's calls may use the whole submission budget, never more.
        return Limits(
            call_seconds=min(self.call_timeout, self.timeout),
            exercise_seconds=min(Limits.exercise_seconds, self.timeout),
            memory_bytes=self.memory_bytes,
            output_bytes=self.output_bytes,
            threads=1,
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> "JobOptions":
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


def _file_hash(path: Path | None) -> str:
    if path is None or not Path(path).is_file():
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(options: JobOptions, registry=None) -> str:
    """What a result depends on besides the submission: options, checks, solutions.

    A resumed batch regrades a student whose journal line has another fingerprint (a
    check was fixed, --timeout changed), and a cluster worker whose course kit differs
    from the batch's refuses the job instead of grading with other checks.
    """
    from grader.api import with_requirements
    from grader.registry import load_registry

    registry = registry or load_registry()
    specs = registry.select(options.exercises)
    files = {}
    for spec in with_requirements(specs, registry):
        for role, paths in (
            ("checks", spec.checks),
            ("hidden", spec.hidden_checks),
            ("solution", (spec.solution,)),
            ("mistakes", (spec.mistakes,)),
        ):
            for path in paths:
                if path is not None:
                    files[f"{spec.name}/{role}/{Path(path).name}"] = _file_hash(path)
    doc = {"options": {k: v for k, v in options.to_json().items()}, "files": files}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _result(job: dict, status: str, exercises: list, timing: dict, error: str = "", retry: bool = False) -> dict:
    """One journal line (the module docstring lists its fields): the one place it is built."""
    options = job.get("options", {})
    return {
        "id": job["id"],
        "digest": job.get("digest", ""),
        "fingerprint": job.get("fingerprint", ""),
        "status": status,
        "error": error,
        "retry": retry,
        "exercises": exercises,
        "seed": options.get("seed"),  # also in each exercise's document: reproduce with --seed
        "isolated": options.get("isolation", REQUIRED) != OFF,  # False: --no-sandbox, said in grades.csv and report.html
        "timing": timing,
        "host": socket.gethostname(),
    }


def error_result(job: dict, message: str, retry: bool = False, seconds: float = 0.0) -> dict:
    return _result(job, ERROR, [], {"total": round(seconds, 4), "grade": 0.0}, error=message, retry=retry)


def grade_options_for(options: JobOptions, reference_cache: Path | None = None, prepared=None):
    """The runner's GradeOptions for a job's options (grader.runner.GradeOptions)."""
    from grader.runner import GradeOptions

    return GradeOptions(
        device=options.device,
        seed=options.seed,
        limits=options.limits(),
        settings=dict(options.settings),
        isolation=options.isolation,
        reference_cache=str(reference_cache) if reference_cache else None,
        prepared=prepared,
    )


def _without(scratch: Path, text: str, root: Path | None = None) -> str:
    """``text`` without the job's scratch paths: no scratch path may reach a result (it would
    differ between runs of the same submission, and it is the grader's, not the student's)."""
    root = root or scratch / "submission"
    return text.replace(str(root) + "/", "").replace(str(scratch) + "/", "").replace(str(scratch), "")


def grade_job(job: dict, zygote, scratch: Path, registry=None, reference_cache: Path | None = None,
              prepared=None) -> dict:  # fmt: skip
    """Grade one submission (in a trusted process of its own); never raises.

    ``reference_cache``: a folder shared by the jobs of one slot, where the reference's
    replies are kept for the next students (grader.refcache). ``prepared``: the slot's
    pytest sessions, collected before it forked (grader.session.PreparedSessions)."""
    from grader.api import with_requirements
    from grader.batch.unpack import UnpackError, materialize, resolve
    from grader.registry import UnknownExercise, load_registry
    from grader.runner import grade

    start = time.monotonic()
    options = JobOptions.from_json(job["options"])
    try:
        registry = registry or load_registry()
        specs = registry.select(options.exercises)
    except UnknownExercise as exc:
        return error_result(job, f"this machine's course kit cannot grade the batch: {exc}", retry=True)
    label = job.get("label") or job["id"]
    try:
        root = materialize(job["source"], scratch / "submission")
    except UnpackError as exc:
        return error_result(job, _without(scratch, str(exc)), seconds=time.monotonic() - start)
    except OSError as exc:
        return error_result(job, _without(scratch, f"cannot read the submission: {exc.strerror or exc}"),
                            seconds=time.monotonic() - start)  # fmt: skip
    support = with_requirements(specs, registry)
    submission = resolve(root, specs, support, label, single_file=job["source"].get("kind") == "file")
    grade_options = grade_options_for(options, reference_cache, prepared)
    graded = time.monotonic()
    results = grade(specs, submission, grade_options, zygote=zygote, support=support)
    done = time.monotonic()
    docs = [r.to_json() for r in results]
    text = _without(scratch, json.dumps(docs), root)
    timing = {"total": round(done - start, 4), "grade": round(done - graded, 4)}
    return _result(job, GRADED, json.loads(text), timing)
