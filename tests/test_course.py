"""Every exercise of the built-in course, the same way: the reference earns full marks
(hidden checks included) and the untouched stub earns nothing, saying "not implemented".

Per-exercise test files cover the wrong and differently written submissions.
"""

from pathlib import Path

import pytest

from conftest import grade_file
from grader.api import check_solutions
from grader.registry import load_registry
from grader.results import PASSED

ROOT = Path(__file__).resolve().parents[1]
# The built-in course: every installed exercise whose handout lives in this checkout's
# exercises/ (a seventh exercise is covered here as soon as it is registered).
COURSE = [s.name for s in load_registry().ordered() if (ROOT / "exercises") in Path(s.stub).resolve().parents]


def test_the_course_is_registered_in_order():
    registry = load_registry()
    assert not registry.broken, registry.broken
    assert len(COURSE) >= 6 and COURSE[:2] == ["softmax", "attention"] and COURSE[-1] == "gpt2_loading"
    orders = [registry.get(name).order for name in COURSE]
    assert orders == sorted(orders) and len(set(orders)) == len(orders), "each exercise has its own place"


@pytest.mark.slow
def test_every_reference_earns_full_marks():
    results = check_solutions(COURSE)
    for result in results:
        assert result.max_score > 0, result.exercise
        assert any(c.hidden for c in result.checks), f"{result.exercise}: hidden checks should run where the solutions are"
        assert result.score == result.max_score, (result.exercise, [c.to_json() for c in result.checks if c.status != PASSED])


@pytest.mark.parametrize("exercise", COURSE)
def test_untouched_stub_scores_zero_with_not_implemented(exercise):
    result = grade_file(exercise)
    assert result.checks and result.score == 0
    assert all(c.status == "failed" for c in result.checks)
    assert all("not implemented" in c.message for c in result.checks), [c.message for c in result.checks if "not implemented" not in c.message]
