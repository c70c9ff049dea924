"""The positional-encoding exercise: reference, stub, wrong and differently written submissions."""

import math

import numpy as np
import pytest
import torch
from conftest import SUBMISSIONS, assert_named_failure, check_named
from conftest import graded as graded_submission

from grader.results import PASSED

PE = SUBMISSIONS / "positional_encoding"


def graded(name: str):
    return graded_submission("positional_encoding", name)


@pytest.mark.parametrize(
    "name, check, expected_message",
    [
        ("swapped.py", "test_values_match_reference", "sin and cos swapped"),
        ("concatenated.py", "test_values_match_reference", "concatenated as two halves"),
        ("exponent_i.py", "test_values_match_reference", "exponent i/d_model instead of 2i/d_model"),
        ("from_one.py", "test_values_match_reference", "positions start at 1"),
        ("linspace_positions.py", "test_values_match_reference", "the positions are scaled"),
        ("from_one.py", "test_even_columns_sine_odd_columns_cosine", "row 0 (position 0) should be [0, 1, 0, 1"),
        ("float16_positions.py", "test_large_positions_stay_accurate", "compute the angles in float64"),
        ("no_validation.py", "test_rejects_bad_d_model", "should raise ValueError"),
        ("no_validation.py", "test_rejects_bad_max_len", "returned a tensor of shape (0, 8)"),
        ("no_validation.py", "test_dtype_is_float32", "has dtype float64, expected float32"),
        # The hidden prefix check says what is wrong with the shape, not "do not scale by max_len".
        ("batch_dim.py", "test_large_positions_stay_accurate", "has shape (1, "),
        ("batch_dim.py", "test_hidden_rows_do_not_depend_on_max_len",
         "sinusoidal_positional_encoding(100, 32) has shape (1, 100, 32), expected (100, 32)"),
    ],
)
def test_wrong_submissions_get_partial_scores_and_named_mistakes(name, check, expected_message):
    result = graded(name)
    assert 0 < result.score < result.max_score, result.to_json()
    assert_named_failure(result, check, expected_message)


def test_float16_positions_lose_only_the_large_position_check():
    result = graded("float16_positions.py")
    failed = [c.name for c in result.checks if c.status != PASSED]
    assert failed == ["test_large_positions_stay_accurate"], result.to_json()


@pytest.mark.parametrize("name", ["tutorial.py", "loops.py", "outer.py"])
def test_differently_written_correct_submissions_get_full_marks(name):
    # tutorial.py computes its frequencies in float32, as the PyTorch tutorial does.
    result = graded(name)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]


def numpy_encoding(max_len: int, d_model: int) -> np.ndarray:
    """Independent oracle: the paper's formula, element by element, in numpy float64."""
    p = np.arange(max_len, dtype=np.float64)[:, None]
    j = np.arange(d_model)[None, :]
    angle = p / np.power(10000.0, (2 * (j // 2)) / d_model)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))


@pytest.mark.parametrize("max_len, d_model", [(1, 2), (10, 4), (50, 16), (7, 128), (4096, 64)])
def test_reference_agrees_with_numpy_formula(max_len, d_model):
    from solutions.positional_encoding import sinusoidal_positional_encoding

    pe = sinusoidal_positional_encoding(max_len, d_model)
    assert pe.dtype == torch.float32 and pe.shape == (max_len, d_model)
    # float32 rounding of values in [-1, 1] only: nothing grows with the position.
    np.testing.assert_allclose(pe.numpy(), numpy_encoding(max_len, d_model), rtol=0, atol=1e-7)


def test_reference_matches_hand_computed_entries():
    from solutions.positional_encoding import sinusoidal_positional_encoding

    pe = sinusoidal_positional_encoding(3, 4)
    expected = [
        [0.0, 1.0, 0.0, 1.0],
        [math.sin(1), math.cos(1), math.sin(1 / 100), math.cos(1 / 100)],
        [math.sin(2), math.cos(2), math.sin(2 / 100), math.cos(2 / 100)],
    ]
    torch.testing.assert_close(pe, torch.tensor(expected))


@pytest.mark.parametrize("max_len, d_model", [(10, 7), (10, 0), (10, -4), (0, 8), (-1, 8), (10, 8.0), (True, 8)])
def test_reference_rejects_bad_sizes(max_len, d_model):
    from solutions.positional_encoding import sinusoidal_positional_encoding

    with pytest.raises(ValueError, match="must be a positive"):
        sinusoidal_positional_encoding(max_len, d_model)


def test_every_known_mistake_differs_from_the_reference():
    from solutions.positional_encoding import sinusoidal_positional_encoding
    from solutions.positional_encoding_mistakes import MISTAKES

    reference = sinusoidal_positional_encoding(50, 16)
    for name, overrides in MISTAKES.items():
        wrong = overrides["sinusoidal_positional_encoding"](50, 16)
        assert wrong.shape == reference.shape and wrong.dtype == reference.dtype, name
        assert (wrong - reference).abs().max() > 0.1, name


def test_a_shape_failure_on_large_positions_says_only_the_shape():
    message = check_named(graded("batch_dim.py"), "test_large_positions_stay_accurate").message
    assert "rows are off" not in message and message.rstrip().endswith(")"), message
