"""The runner: several exercises in one pytest session keep their checks apart."""

from grader.api import grade_exercises, static_checks
from grader.registry import load_registry


def test_each_exercise_gets_exactly_its_own_checks():
    registry = load_registry()
    results = grade_exercises(None)
    assert [r.exercise for r in results] == [s.name for s in registry.ordered()]
    for result in results:
        spec = registry.get(result.exercise)
        expected = sorted(c.name for c in static_checks(spec, include_hidden=spec.has_solution))
        got = sorted(c.name.split("[")[0] for c in result.checks)
        assert got == expected, result.exercise
        assert result.score == 0  # the untouched stubs


def test_points_come_from_the_marker():
    registry = load_registry()
    [result] = grade_exercises(["softmax"])
    static = {c.name: c.points for c in static_checks(registry.get("softmax"), include_hidden=True)}
    for check in result.checks:
        assert check.max_points == static[check.name.split("[")[0]]
