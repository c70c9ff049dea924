"""The pytest plugin that turns check files into graded results.

It registers the ``points`` and ``hidden`` markers, gives checks their fixtures
(``student``, ``reference``, ``device``, ``generator``, ``seed``), and records one
:class:`~grader.results.CheckResult` per check. Points travel from the marker to
``item.user_properties`` so every report sees them.

Which worker serves ``student`` for a check is decided by the check file's exercise:
the plugin is told, per check file, which exercise it belongs to.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from grader.remote import (
    KitOutOfDate,
    Namespace,
    ReferenceFailure,
    RemoteError,
    Session,
    StudentError,
    Transport,
)
from grader import rules
from grader.results import (
    ERROR,
    FAILED,
    FORBIDDEN,
    GRADER_ERROR,
    NOT_IMPLEMENTED,
    NOT_SUBMITTED,
    PASSED,
    RAISED,
    SKIPPED,
    TIMED_OUT,
    WRONG,
    CheckResult,
    ExerciseResult,
)
from grader.spec import ExerciseSpec, marked_points
from grader.safe_text import printable
from grader.submission import Submission

MESSAGE_LIMIT = 1500

# StudentError.type_name -> CheckResult.outcome; any other type: the submission raised.
# The plugin's own refusals (setup) use the first two type names.
OUTCOME_OF_TYPE = {
    "NoSubmission": NOT_SUBMITTED,
    "Forbidden": FORBIDDEN,
    "NotImplementedError": NOT_IMPLEMENTED,
    "Timeout": TIMED_OUT,
}


@dataclass(frozen=True)
class Failure:
    """What a failed check's exception says, as its CheckResult records it."""

    kind: str  # "failed" (the submission's) or "error" (the grader's)
    message: str
    outcome: str
    mistake: str = ""


def points_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    if marker is None:
        return 1.0
    try:
        return marked_points(marker.args, marker.kwargs)
    except ValueError as exc:
        raise pytest.UsageError(f"{item.nodeid}: {exc}") from None


@dataclass
class ExerciseRun:
    """Per-exercise state while its checks run."""

    spec: ExerciseSpec
    result: ExerciseResult
    student: Session | None = None
    reference: Session | None = None
    started: float = field(default_factory=time.monotonic)


class GraderPlugin:
    """Passed to ``pytest.main(plugins=[...])`` by ``grader.runner``."""

    def __init__(
        self,
        specs_by_file: dict[Path, ExerciseSpec],
        submission: Submission | None,
        device: str,
        seed: int,
        make_transport: Callable[[ExerciseSpec, str], Transport] | None,
        settings: dict[str, str] | None = None,
        exclude_hidden: set[str] = frozenset(),
    ):
        # What the session's collection decides (the same for every run of the session):
        self.item_specs: dict[str, ExerciseSpec] = {}
        self.specs_by_file = {p.resolve(): s for p, s in specs_by_file.items()}
        self._spec_of_path: dict = {}
        # Exercises whose @pytest.mark.hidden checks must not run (a student kit, or a run
        # that asked for visible checks only); a hidden check in a visible file too.
        self.exclude_hidden: set[str] = set(exclude_hidden)
        self.collect_failures: list[tuple[ExerciseSpec, CheckResult]] = []
        self.rootpath = Path.cwd()
        self.start_run(submission, device, seed, make_transport, settings)

    def start_run(
        self,
        submission: Submission | None,
        device: str,
        seed: int,
        make_transport: Callable[[ExerciseSpec, str], Transport] | None,
        settings: dict[str, str] | None = None,
    ) -> None:
        """Grade ``submission`` next: a session collected once (grader.session) runs its
        checks for one submission per forked process, each set up by this call."""
        self.settings_map = dict(settings or {})
        self.on_check: Callable[[str, CheckResult], None] | None = None
        self.submission = submission
        self.device_name = device
        self.base_seed = seed
        self.make_transport = make_transport
        self.runs: dict[str, ExerciseRun] = {}
        self._excinfo: dict[str, Failure] = {}
        self._source_rules: dict[str, str | None] = {}  # exercise -> why its source breaks a rule
        for spec, check in self.collect_failures:
            self.run_for(spec).result.checks.append(check)

    # ---------------------------------------------------------------- bookkeeping

    def run_for(self, spec: ExerciseSpec) -> ExerciseRun:
        if spec.name not in self.runs:
            self.runs[spec.name] = ExerciseRun(spec, ExerciseResult(spec.name, self.device_name))
        return self.runs[spec.name]

    def spec_of(self, path: Path) -> ExerciseSpec:
        # Asked for several times per check (each with the item's path): resolve each once.
        spec = self._spec_of_path.get(path)
        if spec is None:
            spec = self._spec_of_path[path] = self.specs_by_file[Path(path).resolve()]
        return spec

    def close(self) -> None:
        for run in self.runs.values():
            for session in (run.student, run.reference):
                if session is not None:
                    session.close()
            run.student = run.reference = None

    # ---------------------------------------------------------------- pytest hooks

    def pytest_configure(self, config: pytest.Config) -> None:
        self.rootpath = config.rootpath  # what a report's fspath is relative to
        config.addinivalue_line("markers", "points(n): how many points the check is worth")
        config.addinivalue_line("markers", "hidden: instructor-only check, never shipped in a student kit")

    def pytest_collection_modifyitems(self, session, config, items: list[pytest.Item]) -> None:
        dropped = [
            item for item in items
            if item.get_closest_marker("hidden") is not None and self.spec_of(item.path).name in self.exclude_hidden
        ]  # fmt: skip
        if dropped:
            items[:] = [item for item in items if item not in dropped]
            config.hook.pytest_deselected(items=dropped)
        for item in items:
            spec = self.spec_of(item.path)
            item.user_properties.append(("points", points_of(item)))
            item.user_properties.append(("hidden", item.get_closest_marker("hidden") is not None))
            item.user_properties.append(("exercise", spec.name))
            self.item_specs[item.nodeid] = spec

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.fspath and Path(report.fspath).suffix == ".py":
            try:
                spec = self.spec_of(Path(os.path.normpath(self.rootpath / report.fspath)))
            except KeyError:
                return
            text = str(report.longrepr).strip().splitlines()
            check = CheckResult(
                f"collect {Path(report.fspath).name}",
                0.0,
                0.0,
                ERROR,
                "the grader itself failed: could not load the checks: " + (text[-1] if text else ""),
                outcome=GRADER_ERROR,
            )
            self.collect_failures.append((spec, check))
            self.run_for(spec).result.checks.append(check)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if call.excinfo is not None and report.failed and item.nodeid not in self._excinfo:
            self._excinfo[item.nodeid] = _failure_for(call.excinfo)
        if report.when in ("setup", "call"):
            self._forbidden_at_run_time(item, report)

    def _forbidden_at_run_time(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """A check during which the submission called what its handout forbids fails, whatever
        it asserted, with the rule and where (``grader.rules``)."""
        spec = self.item_specs.get(item.nodeid)
        run = self.runs.get(spec.name) if spec is not None else None
        if run is None or run.student is None or not spec.forbidden:
            return
        text = rules.message(run.student.take_forbidden(item.nodeid.split("::", 1)[-1]), spec.forbidden)
        if text:
            report.outcome = "failed"
            report.longrepr = text
            self._excinfo[item.nodeid] = Failure("failed", _trim(text), FORBIDDEN)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            if report.when == "call" or report.failed or report.skipped:
                self._record(report)

    def _record(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        run = self.run_for(self.item_specs[report.nodeid])
        max_points = float(props.get("points", 1.0))
        name = report.nodeid.split("::", 1)[-1]
        mistake = ""
        if report.passed:
            status, message, points, outcome = PASSED, "", max_points, ""
        elif report.skipped:
            status, points, outcome = FAILED, 0.0, SKIPPED
            message = "skipped: " + (str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "")
        else:
            points = 0.0
            failure = self._excinfo.get(report.nodeid) or Failure("error", str(report.longrepr)[-MESSAGE_LIMIT:], GRADER_ERROR)
            status = ERROR if failure.kind == "error" else FAILED
            message, outcome, mistake = failure.message, failure.outcome, failure.mistake
        # Messages quote what submissions return and raise (a class name, a string): shown as text.
        check = CheckResult(name, points, max_points, status, printable(message), bool(props.get("hidden")), mistake, outcome)
        run.result.checks.append(check)
        if self.on_check is not None:
            self.on_check(run.spec.name, check)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # Nothing to grade: fail every check with the reason, without running it.
        spec = self.spec_of(item.path)
        if spec.module in self.submission.problems:
            raise StudentError(self.submission.problems[spec.module], "NoSubmission")
        # The handout's "do not call X", found in the submitted source: no check earns points.
        if spec.name not in self._source_rules:
            path = self.submission.files.get(spec.module)
            uses = rules.source_uses(path, [f.name for f in spec.forbidden]) if path and spec.forbidden else []
            self._source_rules[spec.name] = rules.message(uses, spec.forbidden)
        if self._source_rules[spec.name]:
            raise StudentError(self._source_rules[spec.name], "Forbidden")

    def pytest_runtest_teardown(self, item, nextitem):
        spec = self.spec_of(item.path)
        if nextitem is None or self.spec_of(nextitem.path).name != spec.name:
            run = self.runs.get(spec.name)
            if run:
                run.result.seconds = time.monotonic() - run.started
                for session in (run.student, run.reference):
                    if session is not None:
                        session.close()
                run.student = run.reference = None

    # ---------------------------------------------------------------- fixtures

    def _session(self, request: pytest.FixtureRequest, role: str) -> Namespace:
        spec = self.spec_of(request.path)
        run = self.run_for(spec)
        attr = "student" if role == "student" else "reference"
        if getattr(run, attr) is None:
            transport = self.make_transport(spec, role)
            setattr(run, attr, Session(transport, transport.subject))
        session = getattr(run, attr)
        name = request.node.nodeid.split("::", 1)[-1]
        namespace = Namespace(session, label=role)
        if session.begin(name) and role == "reference":
            # Each check starts the reference from the same random state, whatever checks
            # ran (or stopped early) before it: its replies depend on the check alone, which
            # lets a batch share them by check (grader.refcache).
            namespace.seed(self.check_seed(name))
        return namespace

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> Namespace:
        """The submission, loaded in a sandboxed worker process."""
        return self._session(request, "student")

    @pytest.fixture
    def reference(self, request: pytest.FixtureRequest) -> Namespace:
        """The reference solution: live in a worker, or replayed in a student kit."""
        return self._session(request, "reference")

    @pytest.fixture
    def device(self):
        import torch

        return torch.device(self.device_name)

    def check_seed(self, name: str) -> int:
        """The seed of check ``name``: fixed per check (not per run order)."""
        return (self.base_seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31)

    @pytest.fixture
    def seed(self, request: pytest.FixtureRequest) -> int:
        """A seed fixed per check (not per run order), so every run sees the same inputs."""
        return self.check_seed(request.node.nodeid.split("::", 1)[-1])

    @pytest.fixture
    def settings(self) -> dict[str, str]:
        """Run settings from the command line (e.g. ``checkpoint`` for gpt2_loading)."""
        return dict(self.settings_map)

    @pytest.fixture
    def generator(self, seed: int):
        import torch

        return torch.Generator().manual_seed(seed)



def _failure_for(excinfo: pytest.ExceptionInfo) -> Failure:
    """What a failed check records: status kind, message, outcome and known mistake."""
    exc = excinfo.value
    if isinstance(exc, KitOutOfDate):
        return Failure("error", f"this student kit is out of date: {exc}", GRADER_ERROR)
    if isinstance(exc, StudentError):
        return Failure("failed", _trim(str(exc)), _student_outcome(exc))
    if isinstance(exc, AssertionError):
        text = str(exc).strip()
        # pytest's rewritten asserts append an "assert ..." explanation: keep the
        # author's message, which is the first paragraph.
        first = text.split("\nassert ")[0].strip() if text else "assertion failed"
        # A check that turned the submission's exception into its own explanation
        # ("load_gpt2 failed with ...") failed because the code raised, not on its values.
        cause = exc.__cause__ or exc.__context__
        outcome = _student_outcome(cause) if isinstance(cause, StudentError) else WRONG
        return Failure("failed", _trim(first), outcome, str(getattr(exc, "mistake", "") or ""))
    if isinstance(exc, ReferenceFailure):
        return Failure("error", _trim(f"the grader itself failed (reference raised): {exc}"), GRADER_ERROR)
    if isinstance(exc, RemoteError):
        return Failure("error", _trim(f"the grader itself failed: {exc}"), GRADER_ERROR)
    if isinstance(exc, CHECK_CANNOT_USE) and _raised_in_check_code(excinfo):
        # A check (or torch, called by it) that could not work with a value the submission
        # returned (None for a model, a bool tensor where numbers go): the submission's
        # failure, not a grader error retried on every --resume. The reference path never
        # gets here: grade check-solutions would fail.
        return Failure("failed", _trim(f"the check could not use what your code returned ({type(exc).__name__}: {exc}): "
                                       "look at what it returns there (the type, shape and dtype the handout asks for)"),
                       RAISED)  # fmt: skip
    return Failure("error", _trim(f"the grader itself failed: {type(exc).__name__}: {exc}"), GRADER_ERROR)


# What a check meets when a submission's value is not what the handout asks for. (NameError,
# ImportError and the like stay grader errors: they are bugs in a check, whatever it was given.)
CHECK_CANNOT_USE = (TypeError, AttributeError, IndexError, ValueError, KeyError, RuntimeError, ZeroDivisionError,
                    OverflowError)
_GRADER_DIR = os.path.dirname(os.path.abspath(__file__))
_COMPARE = os.path.join(_GRADER_DIR, "compare.py")


def _raised_in_check_code(excinfo: pytest.ExceptionInfo) -> bool:
    """Whether the innermost frame is a check's (a check file, the comparison helpers, or a
    library it called), not the grader's own machinery (workers, wire, runner)."""
    entries = getattr(excinfo, "traceback", None)
    if not entries:
        return False
    innermost = os.path.abspath(str(entries[-1].path))
    return innermost == _COMPARE or not innermost.startswith(_GRADER_DIR + os.sep)


def _student_outcome(exc: StudentError) -> str:
    return OUTCOME_OF_TYPE.get(exc.type_name, RAISED)


def _trim(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."
