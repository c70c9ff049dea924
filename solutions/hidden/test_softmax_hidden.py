"""Hidden checks for exercise 1 (softmax): instructor grading only, never in a student kit.

They probe what the visible checks leave out, so a submission tuned to pass the visible
checks alone is still caught: non-contiguous inputs and -inf entries (how masks reach
softmax in attention).
"""

import pytest
import torch

from grader.compare import expect, expect_close, expect_tensor
from grader.wire import KeepLayout


@pytest.mark.hidden
@pytest.mark.points(2)
def test_non_contiguous_input(student, reference, generator):
    # A transposed view: its strides are not those of a fresh tensor of its shape.
    x = (torch.randn(6, 4, generator=generator) * 3).t()
    expected = reference.softmax(x, dim=0)
    mistakes = reference.diagnose(lambda ns: ns.softmax(x, dim=0))
    # KeepLayout: the worker gets x with these strides, not the contiguous copy every other
    # argument becomes (without it this check could never fail).
    expect_close(student.softmax(KeepLayout(x), dim=0), expected, "softmax of a transposed (non-contiguous) tensor, dim=0",
                 mistakes=mistakes)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_minus_infinity_gets_zero_weight(student, reference):
    # Attention masks set scores to -inf before softmax: those entries must get exactly 0.
    x = torch.tensor([[0.5, float("-inf"), 1.5, float("-inf")], [float("-inf"), 2.0, 2.0, 0.0]])
    out = expect_tensor(student.softmax(x, dim=-1), "softmax of a row holding -inf entries", shape=x.shape, device=x.device, finite=True)
    expect(bool((out[x == float("-inf")] == 0).all()), "entries that are -inf should get weight exactly 0")
    expect_close(out, reference.softmax(x, dim=-1), "softmax of a row holding -inf entries")
