"""Every exercise of the built-in course, the same way: the reference earns full marks
(hidden checks included) and the untouched stub earns nothing, saying "not implemented".

Per-exercise test files cover the wrong and differently written submissions.
"""

import pytest

from conftest import grade_file
from grader.api import check_solutions
from grader.registry import load_registry
from grader.results import PASSED

COURSE = ["softmax", "attention", "positional_encoding", "decoder_block", "ner_head", "gpt2_loading"]


def test_the_course_is_registered_in_order():
    registry = load_registry()
    assert not registry.broken, registry.broken
    assert [s.name for s in registry.ordered()][: len(COURSE)] == COURSE


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
