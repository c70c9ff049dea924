"""The softmax exercise: reference, stub, wrong and differently written submissions."""

import pytest
import torch
from conftest import assert_named_failure, check_named
from conftest import graded as graded_submission

from grader.results import PASSED


def graded(name: str):
    return graded_submission("softmax", name)


@pytest.mark.parametrize(
    "name, check, expected_message",
    [
        ("wrong_dim.py", "test_values_match_reference", "wrong dimension"),
        ("no_max.py", "test_large_inputs_stay_finite", "no max subtraction"),
        ("global_norm.py", "test_values_match_reference", "whole tensor"),
        ("in_place.py", "test_input_not_modified", "modified it in place"),
        ("detached.py", "test_gradients_match_reference", "graph was cut"),
        ("ends_max.py", "test_large_inputs_stay_finite", "contains NaN"),
        ("default_dim1.py", "test_default_dim_is_last", "along the last dimension"),
    ],
)
def test_wrong_submissions_get_partial_scores_and_named_mistakes(name, check, expected_message):
    result = graded(name)
    # Normalising over the whole tensor is right only for 1-D inputs: no check is
    # all 1-D, so that one earns nothing; the others earn part of the points.
    low = 0 if name == "global_norm.py" else 1
    assert low <= result.score < result.max_score, result.to_json()
    assert_named_failure(result, check, expected_message)


@pytest.mark.parametrize("name", ["logsumexp.py", "loops.py", "einsum.py"])
def test_differently_written_correct_submissions_get_full_marks(name):
    result = graded(name)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]


def test_failure_message_says_where_the_numbers_differ():
    result = graded("wrong_dim.py")
    message = check_named(result, "test_values_match_reference").message
    assert "max abs error" in message and "at index" in message


def test_reference_agrees_with_torch_softmax():
    """Independent oracle: torch.nn.functional.softmax."""
    from solutions.softmax import softmax

    gen = torch.Generator().manual_seed(0)
    for shape, dim in [((7,), 0), ((3, 5), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), -2)]:
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * 10
        torch.testing.assert_close(softmax(x, dim=dim), torch.nn.functional.softmax(x, dim=dim))
    big = torch.tensor([1e4, 0.0, -1e4])
    torch.testing.assert_close(softmax(big), torch.nn.functional.softmax(big, dim=-1))
