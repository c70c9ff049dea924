"""Runs the checks of one or more exercises against one submission: the library entry point.

One call is one in-process pytest session over the exercises' check files (pytest is
not re-entered in a loop: its import caching leaks between runs): a fresh ``pytest.main``,
or, in a batch slot's per-submission fork, the session the slot collected before forking
(``GradeOptions.prepared``, grader.session). Submission and reference code run in workers
forked from the zygote; verdicts are decided here.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from grader.live import LiveTransport, reply_cap
from grader.remote import Transport
from grader.results import ERROR, CheckResult, ExerciseResult
from grader.jail import JailPolicy
from grader.sandbox import BEST_EFFORT, Limits
from grader.spec import ExerciseSpec, required_modules
from grader.submission import Submission
from grader.boundary import WorkerConfig

if TYPE_CHECKING:
    from grader.session import PreparedSessions

INI_FILE = Path(__file__).with_name("pytest_grader.ini")


@dataclass
class GradeOptions:
    device: str = "auto"  # cpu | cuda | auto
    seed: int | None = 0  # None: this install's own seed (grader.secret.default_seed), set by grader.api
    include_hidden: bool | None = None  # None: wherever the solutions are present
    limits: Limits = field(default_factory=Limits)
    # Free-form settings checks can read through the ``settings`` fixture, e.g.
    # {"checkpoint": "/path/to/gpt2"} from ``grade exercise gpt2_loading --checkpoint``.
    settings: dict[str, str] = field(default_factory=dict)
    # Builds the reference transport; None means live, from the installed solutions.
    reference_transport: Callable[[ExerciseSpec, "WorkerConfig"], Transport] | None = None
    # How much of the jail (grader/jail.py) student workers insist on: a batch requires it;
    # a student's own `grade exercise` takes what the machine grants.
    isolation: str = BEST_EFFORT
    # A folder where reference replies are shared between runs with the same seed and
    # checks (a batch slot's, see grader.refcache); None: every reply is computed live.
    reference_cache: str | None = None
    # Called with (exercise name, CheckResult) as each check finishes: progress display.
    on_check: Callable[[str, CheckResult], None] | None = None
    # pytest sessions collected ahead of the run (a batch slot's, see grader.session);
    # None: one pytest.main per run.
    prepared: "PreparedSessions | None" = None


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or auto")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device here")
    return "cpu"


def _shown_to_students(submission: Submission, inputs: str, settings: dict[str, str]) -> tuple[str, ...]:
    """The paths a student's jail shows read-only, besides Python itself: the submitted files,
    the course data, the folder where checks write their inputs, folders named in settings."""
    from grader.data import data_dir

    paths = [str(p) for p in submission.files.values()]
    paths += [str(data_dir()), inputs]
    paths += [v for v in settings.values() if os.path.isabs(v) and os.path.exists(v)]
    # (A root grader's workers run as an unprivileged uid: the submitted files are the
    # grader's own copies, readable by others; grader.submission makes them.)
    return tuple(paths)


def _readable_settings(settings: dict[str, str], run_dir: str) -> dict[str, str]:
    """``settings`` with each path a root grader's jailed worker could not read (a folder
    only its owner may enter, say) replaced by a readable copy in this run's folder."""
    if os.geteuid() != 0:
        return dict(settings)
    out = {}
    for key, value in settings.items():
        if os.path.isabs(value) and os.path.exists(value) and not _readable_by_others(value):
            copy = os.path.join(run_dir, "shared", key)
            if os.path.isdir(value):
                shutil.copytree(value, copy)
            else:
                os.makedirs(os.path.dirname(copy), exist_ok=True)
                shutil.copy2(value, copy)
            _share(copy)
            value = copy
        out[key] = value
    return out


def _readable_by_others(path: str) -> bool:
    if not os.stat(path).st_mode & 0o004 or (os.path.isdir(path) and not os.stat(path).st_mode & 0o001):
        return False
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            mode = os.stat(os.path.join(folder, name)).st_mode
            if not mode & 0o004 or (name in dirs and not mode & 0o001):
                return False
    return True


def _share(path: str) -> None:
    """Add read (and, to folders, enter) permission for others, all the way down."""
    os.chmod(path, os.stat(path).st_mode | (0o055 if os.path.isdir(path) else 0o044))
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            child = os.path.join(folder, name)
            os.chmod(child, os.stat(child).st_mode | (0o055 if name in dirs else 0o044))


def _has_entries(folder: str) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is not None


class _SharedInputs:
    """A student transport that, before each call, makes what checks wrote in the inputs
    folder readable by the jailed worker (``tempfile`` creates it owner-only)."""

    def __init__(self, transport: Transport, inputs: str):
        self._transport, self._inputs = transport, inputs

    def roundtrip(self, key, doc, blob):
        if os.geteuid() == 0 and _has_entries(self._inputs):  # most checks write nothing there
            _share(self._inputs)
        return self._transport.roundtrip(key, doc, blob)

    def __getattr__(self, name):
        return getattr(self._transport, name)


def grade(
    specs: list[ExerciseSpec],
    submission: Submission,
    options: GradeOptions | None = None,
    zygote=None,
    support: list[ExerciseSpec] | None = None,
) -> list[ExerciseResult]:
    """Grade ``submission`` on ``specs``; one ExerciseResult per spec, in course order.

    ``support`` lists further exercises whose reference modules the graded ones import
    (``ExerciseSpec.requires``); the reference worker gets their solutions too.
    """
    from grader.plugin import GraderPlugin
    from grader.zygote import default_zygote

    options = options or GradeOptions()
    device = resolve_device(options.device)
    if options.device == "auto" and options.reference_transport is None:
        device = _replay_device(specs, device)
    # One private folder per run: worker logs, and the inputs checks write for the student
    # (tempfile points there while the checks run), which the student's jail shows.
    run_dir = tempfile.mkdtemp(prefix="grader-run-")
    try:
        transports = _Transports(options, submission, zygote or default_zygote(), device, run_dir, support or [])
        files, without_hidden = check_files(specs, options)
        start = time.monotonic()

        def start_run(plugin: GraderPlugin) -> None:
            plugin.start_run(submission, device, options.seed, transports.make, transports.settings)
            plugin.on_check = options.on_check

        prepared = options.prepared.get(files, without_hidden) if options.prepared is not None else None
        ran = prepared.run(start_run, transports.inputs) if prepared is not None else None
        if ran is not None:
            plugin = prepared.plugin
            code, output = ran
        else:
            plugin = GraderPlugin(files, None, device, options.seed, None, exclude_hidden=without_hidden)
            start_run(plugin)
            code, output = _run_pytest(pytest_args(files), plugin, transports.inputs)
        elapsed = time.monotonic() - start
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)  # worker output logs (messages already read), inputs
        submission.cleanup()
    return [_result_of(spec, plugin, submission, device, options.seed, elapsed / max(1, len(specs)), code, output)
            for spec in specs]  # fmt: skip


class _Transports:
    """Builds each exercise's student and reference transports for one run (the plugin
    asks for them the first time a check needs them)."""

    def __init__(self, options: GradeOptions, submission: Submission, zygote, device: str, run_dir: str,
                 support: list[ExerciseSpec]):  # fmt: skip
        self.options, self.submission, self.zygote, self.device = options, submission, zygote, device
        self.logs, self.inputs = os.path.join(run_dir, "logs"), os.path.join(run_dir, "inputs")
        os.mkdir(self.logs)
        os.mkdir(self.inputs)
        os.chmod(self.inputs, 0o755)  # whatever the umask: the jailed worker reads it
        self.settings = _readable_settings(options.settings, run_dir)
        self.shown = _shown_to_students(submission, self.inputs, self.settings)
        self.support = {s.module: s for s in support}

    def config(self, spec: ExerciseSpec, role: str) -> WorkerConfig:
        log = os.path.join(self.logs, f"{spec.name}-{role}.log")
        options = self.options
        modules = self._modules_of(spec)
        if role == "student":
            # Its own module and those it may import (ExerciseSpec.requires), whatever else the
            # folder holds: the same in grade exercise, grade all and a batch.
            files = {m: str(p) for m, p in self.submission.files.items() if m in modules}
            jail = JailPolicy(read_only=self.shown, device=self.device)
            return WorkerConfig(
                "student", spec.module, files, log, options.limits, self.device, jail=jail, isolation=options.isolation,
                forbidden=[f.name for f in spec.forbidden],
            )  # fmt: skip
        files = {m: str(self.support[m].solution) for m in modules
                 if m in self.support and self.support[m].has_solution}  # fmt: skip
        files[spec.module] = str(spec.solution)
        mistakes = str(spec.mistakes) if spec.mistakes and spec.mistakes.is_file() else None
        return WorkerConfig("reference", spec.module, files, log, Limits(call_seconds=120, exercise_seconds=1e9),
                            self.device, mistakes)  # fmt: skip

    def _modules_of(self, spec: ExerciseSpec) -> set[str]:
        """``spec``'s module and every course module it may import, transitively."""
        return {spec.module, *required_modules([spec], self.support)}

    def make(self, spec: ExerciseSpec, role: str) -> Transport:
        if role == "student":
            if spec.module in self.submission.problems:
                return _MissingTransport(self.submission.problems[spec.module])
            subject = f"your {self.submission.submitted_name(spec.module)}"
            live = LiveTransport(self.zygote, self.config(spec, role), subject, reply_cap(self.settings))
            return _SharedInputs(live, self.inputs)
        if self.options.reference_transport is not None:
            return self.options.reference_transport(spec, self.config(spec, role))
        if not spec.has_solution:
            return _replayed_reference(spec, self.options.seed, self.device)
        config = self.config(spec, role)
        live = LiveTransport(self.zygote, config, f"the reference {spec.module}")
        if self.options.reference_cache is None:
            return live
        from grader.refcache import CachedReference, ReplyCache, namespace_for

        namespace = namespace_for(spec.name, self.device, [*config.files.values(), config.mistakes_file])
        return CachedReference(live, ReplyCache(self.options.reference_cache, namespace))


def _replayed_reference(spec: ExerciseSpec, seed: int | None, device: str) -> Transport:
    """A student kit: the reference replays what ``grade release`` recorded."""
    from grader.replay import RecordingError, ReplayTransport, find_recording

    if find_recording(spec) is None:
        return _MissingTransport(f"no reference solution is installed for {spec.name}", role="reference")
    try:
        return ReplayTransport.for_spec(spec, seed=seed, device=device)
    except RecordingError as exc:
        return _MissingTransport(str(exc), role="reference")


def check_files(specs: list[ExerciseSpec], options: GradeOptions) -> tuple[dict[Path, ExerciseSpec], set[str]]:
    """Each check file of the run -> its exercise, and the exercises graded without hidden checks."""
    files: dict[Path, ExerciseSpec] = {}
    without_hidden: set[str] = set()
    for spec in specs:
        include_hidden = options.include_hidden
        if include_hidden is None:
            include_hidden = spec.has_solution and options.reference_transport is None
        if not include_hidden:
            without_hidden.add(spec.name)
        for path in spec.all_checks(include_hidden):
            files[path] = spec
    return files, without_hidden


# pytest's builtin plugins a grading run leaves out. Each adds hooks to every phase of
# every check or options nobody passes here: unraisableexception alone costs ~0.4 s of
# gc.collect() at exit; log capture adds and removes its handlers around every phase
# (~0.1 s a submission; checks report through exceptions, never through logging); the
# last eight, with capture off, ~50 ms of a 0.7 s submission. tmp_path, monkeypatch and
# capsys stay: an exercise's checks may use them.
UNUSED_PLUGINS = ("warnings", "unraisableexception", "threadexception", "faulthandler", "doctest", "pastebin",
                  "logging", "debugging", "unittest", "junitxml", "setuponly", "setupplan", "stepwise",
                  "legacypath", "subtests")  # fmt: skip


def pytest_args(files: dict[Path, ExerciseSpec]) -> list[str]:
    return [
        *[str(p) for p in files],
        "-c", str(INI_FILE),
        # Node ids are relative to the rootdir: it must hold every check file, or
        # checks of different exercises get the same id.
        "--rootdir", os.path.commonpath([str(p.resolve().parent) for p in files] or [str(INI_FILE.parent)]),
        "-p", "no:cacheprovider",
        "--noconftest",
        "--import-mode=importlib",
        "-q",
        "--tb=no",  # messages come from the exceptions; formatting tracebacks costs time
        *[arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")],
        # Output capture swaps file descriptors around every phase. Nothing submitted runs
        # in this process (student code prints into its worker's log), and what checks
        # print goes to the sink _run_pytest redirects it to.
        "--capture=no",
    ]  # fmt: skip


def _run_pytest(args: list[str], plugin, inputs: str) -> tuple[int, str]:
    """One pytest session with ``plugin``; its exit code and what it printed (not ours to show:
    results come from the plugin)."""
    import pytest

    from grader.session import plugin_autoload_off

    sink = io.StringIO()
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, inputs
    try:
        with plugin_autoload_off(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = pytest.main(args, plugins=[plugin])
    finally:
        plugin.close()
        tempfile.tempdir = saved_tempdir
    return int(code), sink.getvalue()


def _result_of(spec: ExerciseSpec, plugin, submission: Submission, device: str, seed: int | None, seconds: float,
               code: int, output: str) -> ExerciseResult:  # fmt: skip
    """The exercise's result as the plugin recorded it, with why nothing ran if nothing did."""
    run = plugin.runs.get(spec.name)
    result = run.result if run else ExerciseResult(spec.name, device)
    if spec.module in submission.problems:
        result.problem = submission.problems[spec.module]
    elif spec.module in submission.notes:  # graded, but the student should know how it was read
        result.problem = submission.notes[spec.module]
    if not result.checks:
        reason = f"pytest exited with {code}: " + output.strip()[-500:]
        result.checks.append(CheckResult("checks", 0.0, 0.0, ERROR, f"the grader itself failed: no checks ran ({reason})"))
    if not result.seconds:
        result.seconds = seconds
    result.seed = seed  # stored with the score: --seed reproduces it
    return result


def _replay_device(specs: list[ExerciseSpec], device: str) -> str:
    """In a student kit, ``--device auto`` picks CPU when the reference was recorded there.

    Replayed verdicts are exact on the recording's device; elsewhere they differ by
    rounding, and calls that name a device in their arguments were never recorded.
    """
    replayed = [s for s in specs if not s.has_solution]
    if not replayed or device == "cpu":
        return device
    from grader.replay import recorded_devices

    devices = recorded_devices(replayed)
    return "cpu" if devices and device not in devices and "cpu" in devices else device


class _MissingTransport:
    """Stands in for a worker when there is nothing to load: every call fails with why."""

    eager_diagnose = False
    keyed = False

    def __init__(self, why: str, role: str = "student"):
        self.why = why
        self.role = role
        self.subject = role

    def roundtrip(self, key, doc, blob):
        from grader.remote import ReferenceFailure, StudentError

        cls = StudentError if self.role == "student" else ReferenceFailure
        raise cls(self.why)

    def mistakes(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


__all__ = ["grade", "GradeOptions", "resolve_device", "check_files", "pytest_args"]
