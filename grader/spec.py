"""What an exercise plugin is: a small frozen description the grader can act on.

A plugin package exposes an :class:`ExerciseSpec` and registers it under the entry-point
group ``grader.exercises`` (see ``grader.registry``). The built-in course does exactly
the same in this project's own pyproject.toml.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Forbidden:
    """A rule of the handout: the submission must not use ``name`` (a dotted name, e.g.
    ``torch.nn.functional.softmax``; a class counts when it is built, ``torch.Tensor.X``
    whenever a method ``X`` is called). ``reason`` ends the message a student reads:
    "uses torch.softmax (softmax.py, line 3): <reason>". ``grader.rules`` enforces it."""

    name: str
    reason: str


def forbid(reason: str, *names: str) -> tuple[Forbidden, ...]:
    """Several names forbidden for one reason."""
    return tuple(Forbidden(n, reason) for n in names)


@dataclass(frozen=True)
class ExerciseSpec:
    """One exercise: what students edit, how it is checked, what it is checked against."""

    name: str  # what users type: ``grade exercise attention``
    title: str
    order: int  # position in the course
    module: str  # the module students edit, e.g. "attention" (attention.py)
    stub: Path  # the handout file students start from
    checks: tuple[Path, ...]  # visible check files (pytest)
    solution: Path | None = None  # reference implementation; absent in a student kit
    mistakes: Path | None = None  # known-mistake variants beside the solution
    hidden_checks: tuple[Path, ...] = ()  # instructor-only checks, never shipped
    data: tuple[Path, ...] = ()  # files or folders the exercise needs
    section: str = ""  # the course section the handout follows
    requires: tuple[str, ...] = ()  # other course modules this one may import
    forbidden: tuple[Forbidden, ...] = ()  # what the handout says not to call (grader.rules)
    # Modules this exercise's workers import while the checks run, slow to import and the
    # same for every student: a batch has its zygote import them once (Zygote.import_modules).
    worker_imports: tuple[str, ...] = ()
    # Functions this exercise's checks call to load read-only data that is the same for
    # every student, each cached where it is defined ("module:function", called with no
    # arguments): a batch slot calls them once, before it forks a process per submission,
    # so that no submission loads them again (a GPT-2 tokenizer takes 0.2 s to read).
    check_preloads: tuple[str, ...] = ()

    @property
    def has_solution(self) -> bool:
        return self.solution is not None and self.solution.is_file()

    def all_checks(self, include_hidden: bool) -> tuple[Path, ...]:
        hidden = tuple(p for p in self.hidden_checks if p.is_file()) if include_hidden else ()
        return self.checks + hidden


def required_modules(roots: Iterable[ExerciseSpec], by_module: Mapping[str, ExerciseSpec]) -> list[str]:
    """The course modules ``roots`` may import: their ``requires`` and what those require in
    turn (gpt2_loading's decoder_block may import attention), each once, nearest first, none
    of the roots' own modules.

    ``by_module`` says what each module requires. A module it does not know is listed but not
    followed (nothing says what it imports); callers that need a spec for it skip it. A cycle
    ends where it comes back to a module already listed."""
    roots = list(roots)
    seen = {spec.module for spec in roots}
    out: list[str] = []
    todo = deque(module for spec in roots for module in spec.requires)
    while todo:  # breadth-first: direct requirements before theirs, the order graders list them in
        module = todo.popleft()
        if module in seen:
            continue
        seen.add(module)
        out.append(module)
        if module in by_module:
            todo.extend(by_module[module].requires)
    return out


@dataclass(frozen=True)
class ExerciseInfo:
    """A spec plus its static check inventory, for ``grade list``."""

    spec: ExerciseSpec
    checks: tuple["StaticCheck", ...] = field(default=())

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks if not c.hidden)


@dataclass(frozen=True)
class StaticCheck:
    name: str
    points: float
    hidden: bool = False


def marked_points(args: tuple, kwargs: dict) -> float:
    """The points a ``@pytest.mark.points(...)`` marker gives: one non-negative number.

    The one rule for the plugin (when the checks run) and ``grader.api`` (reading check files
    without running them), so both refuse the same markers: ValueError saying what is wrong."""
    if len(args) != 1 or kwargs or isinstance(args[0], bool) or not isinstance(args[0], (int, float)):
        given = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]) or "nothing"
        raise ValueError(f"@pytest.mark.points needs one number, got {given}")
    if args[0] < 0:
        raise ValueError(f"points must not be negative, got {args[0]!r}")
    return float(args[0])
