"""No student output makes a check ERROR (issue 9): a wrong shape, dtype or device, NaN/inf,
or a value that is not a tensor at all is the student's failure, with a message that names it.

The corpus (tests/bad_outputs.py): for each exercise, a correct submission whose functions
return their output corrupted in one way; and a GPT-2 loader that fills the Conv1D weights
with a reshape instead of a transpose. Every function an exercise's checks call is corrupted
at once, so one grading per kind covers every check.
"""

from __future__ import annotations

import pytest
from conftest import SUBMISSIONS, grade_file, submission_variant

import bad_outputs

# What a message says about each kind of corruption.
NAMED = {
    "flat": "shape",
    "transposed": "shape",
    "extra_dim": "shape",
    "int": "dtype",
    "float16": "dtype",
    "none": "got None",
    "list": "list",
    "numpy": "ndarray",
    "string": "str",
    "nan": "NaN",
    "inf": "inf",
    "meta": "meta",
}


def _assert_graded_as_failure(result, named: str) -> None:
    errors = [f"{c.name}: {c.message}" for c in result.checks if c.status == "error"]
    assert not errors, errors
    assert result.checks and result.score < result.max_score, result.to_json()
    failed = [c for c in result.checks if c.status == "failed"]
    assert all(c.message.strip() for c in failed), [c.name for c in failed if not c.message.strip()]
    assert any(named in c.message for c in failed), [f"{c.name}: {c.message}" for c in failed]


@pytest.mark.parametrize("kind", list(NAMED))
@pytest.mark.parametrize("exercise", list(bad_outputs.BASES))
def test_bad_output_fails_checks_without_errors(exercise, kind, tmp_path):
    path = bad_outputs.write(exercise, kind, tmp_path)
    _assert_graded_as_failure(grade_file(exercise, path), NAMED[kind])


def test_untransposed_conv1d_loader_is_named_not_an_error(tmp_path):
    base, replacements = bad_outputs.UNTRANSPOSED_LOADER
    path = submission_variant(SUBMISSIONS / base, replacements, tmp_path, "untransposed_loader.py")
    result = grade_file("gpt2_loading", bad_outputs.as_submission("gpt2_loading", path.read_text(), tmp_path / "student"))
    _assert_graded_as_failure(result, "not transposed")


def test_untransposed_weight_diagnosis_compares_shapes_first():
    """The known-mistake comparisons never raise on a shape, dtype or device mismatch."""
    import torch

    from grader.compare import values_close

    want = torch.arange(6.0).reshape(2, 3)
    assert values_close(want.clone(), want)
    assert not values_close(want.t(), want)  # (3, 2) vs (2, 3): False, not a RuntimeError
    assert not values_close(want.double(), want)
    assert not values_close(None, want)


@pytest.mark.parametrize(
    "value, shape, message",
    [
        (None, (2,), "should be a torch.Tensor, got None"),
        ("list", (2,), "should be a torch.Tensor, got a list"),
        ("ab", (2,), "should be a torch.Tensor, got a str"),
        ("flat", (2, 3), "has shape (6), expected (2, 3)"),
        ("int", (2, 3), "has dtype int64, expected float32"),
        ("nan", (2, 3), "contains NaN"),
        ("meta", (2, 3), "'meta' device"),
    ],
)
def test_expect_tensor_names_the_problem(value, shape, message):
    import torch

    from grader.compare import CheckFailure, expect_tensor

    t = torch.ones(2, 3)
    made = {"list": [1.0, 2.0], "flat": t.reshape(-1), "int": t.long(), "nan": t * float("nan"), "meta": t.to("meta")}
    value = made.get(value, value) if isinstance(value, str) else value
    with pytest.raises(CheckFailure) as info:
        expect_tensor(value, "out", shape=shape, dtype=torch.float32, finite=True)
    assert message in str(info.value)
    assert expect_tensor(t, "out", like=t, finite=True) is t
