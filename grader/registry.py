"""Finds exercise plugins through entry points, lazily and defensively.

Any installed distribution can add exercises by declaring, in its pyproject.toml::

    [project.entry-points."grader.exercises"]
    my_exercise = "my_pack.exercise:EXERCISE"

where ``EXERCISE`` is an :class:`grader.spec.ExerciseSpec`. A plugin that fails to load
is reported by name and skipped, so one broken pack cannot break ``grade list``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from grader.spec import ExerciseSpec

GROUP = "grader.exercises"


class UnknownExercise(LookupError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"no exercise named {name!r}; known exercises: {', '.join(known) or '(none)'}")
        self.name, self.known = name, known


@dataclass
class Registry:
    exercises: dict[str, ExerciseSpec] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # entry point -> why it failed

    def ordered(self) -> list[ExerciseSpec]:
        return sorted(self.exercises.values(), key=lambda s: (s.order, s.name))

    def student_kit(self) -> bool:
        """No exercise here has its solution installed: a student kit (``grade release``),
        whose ``grade`` replays a recorded reference and hides the instructor's commands."""
        return bool(self.exercises) and not any(s.has_solution for s in self.exercises.values())

    def get(self, name: str) -> ExerciseSpec:
        try:
            return self.exercises[name]
        except KeyError:
            raise UnknownExercise(name, [s.name for s in self.ordered()]) from None

    def select(self, names: list[str] | None) -> list[ExerciseSpec]:
        """The exercises named, in course order; every installed one when ``names`` is empty.
        UnknownExercise for a name that is not installed."""
        if not names:
            return self.ordered()
        chosen = {name: self.get(name) for name in names}
        return sorted(chosen.values(), key=lambda s: (s.order, s.name))


def load_registry() -> Registry:
    registry = Registry()
    for ep in entry_points(group=GROUP):
        try:
            spec = ep.load()
        except Exception as exc:  # a third-party plugin may be broken in any way
            registry.broken[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        if not isinstance(spec, ExerciseSpec):
            registry.broken[ep.name] = f"{ep.value} is a {type(spec).__name__}, not an ExerciseSpec"
            continue
        if spec.name in registry.exercises and registry.exercises[spec.name] != spec:
            registry.broken[ep.name] = f"duplicate exercise name {spec.name!r}"
            continue
        registry.exercises[spec.name] = spec
    return registry
