"""Checks for exercise 1 (softmax). Run with ``grade exercise softmax``."""

import pytest
import torch

from grader.compare import (expect, expect_close, expect_computed, expect_equal_tensors, expect_finite,
                            expect_own_precision, expect_tensor, output_dtypes)
from grader.remote import call_with_inputs, vjp

CASES = [((5,), -1), ((3, 7), -1), ((3, 7), 0), ((2, 4, 6), 1), ((2, 3, 4, 5), -2)]


@pytest.mark.points(3)
def test_values_match_reference(student, reference, generator):
    for shape, dim in CASES:
        x = torch.randn(shape, generator=generator) * 3
        expected = reference.softmax(x, dim=dim)
        mistakes = reference.diagnose(lambda ns: ns.softmax(x, dim=dim))
        expect_close(student.softmax(x, dim=dim), expected, f"softmax(x of shape {tuple(shape)}, dim={dim})", mistakes=mistakes)


@pytest.mark.points(1)
def test_default_dim_is_last(student, reference, generator):
    # Three dimensions: a default of dim=1 is the last one of a matrix, not of this.
    x = torch.randn(2, 4, 6, generator=generator)
    expect_close(student.softmax(x), reference.softmax(x), "softmax(x) with the default dim",
                 mistakes=reference.diagnose(lambda ns: ns.softmax(x)),
                 hint="without a dim, softmax normalises along the last dimension (def softmax(x, dim=-1))")


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=["float64", "float16"])
def test_dtypes_preserved(student, reference, generator, dtype):
    # The one check that asks for the dtype: everywhere else values are compared after a
    # cast to a common dtype, so a dtype slip costs these points only.
    x = (torch.randn(3, 5, generator=generator) * 2).to(dtype)
    what = f"softmax of a {str(dtype)[6:]} tensor"
    out = expect_tensor(student.softmax(x, dim=-1), what, shape=x.shape, dtype=dtype)
    want = reference.softmax(x, dim=-1)
    expect_own_precision(out, want, what, "x")
    expect_close(out, want, what)


@pytest.mark.points(2)
def test_large_inputs_stay_finite(student, reference, generator):
    # Rows where a naive exp() overflows (1e4, 1000) or underflows (-1e4) for some or all
    # entries, then two rows drawn per grading seed, so that a kit's recorded replies do not
    # answer instructor grading: all near +1000 (every exp overflows) and all near -1000
    # (every exp underflows). Near 1000 float32 still resolves 1e-4, so every correct way of
    # computing softmax (max-subtraction, logsumexp) passes; near 1e4 only exact ties do.
    # The largest entry is first, shared, in the middle: any shift but the row's own maximum
    # (its first or last entry, say) overflows on one of them.
    fixed = torch.tensor([[1e4, 0.0, -1e4], [1000.0, 1000.0, 999.0], [-1e4, -1e4, -1e4], [0.0, 1e4, 0.0]])
    drawn = torch.tensor([[1000.0], [-1000.0]]) + torch.randn(2, 3, generator=generator) * 2
    x = torch.cat([fixed, drawn])
    out = student.softmax(x, dim=-1)
    mistakes = reference.diagnose(lambda ns: ns.softmax(x, dim=-1))
    # The usual cause, when exp() overflowed; an output off without inf or NaN is another bug.
    overflowed = lambda: (  # noqa: E731
        "Subtract the maximum along dim before exp()"
        if type(out) is torch.Tensor and out.is_floating_point() and not bool(torch.isfinite(out).all()) else None
    )
    expect_close(out, reference.softmax(x, dim=-1), "softmax of inputs as large as 1e4", mistakes=mistakes,
                 hint=overflowed)
    expect_finite(out, "softmax of inputs as large as 1e4")


@pytest.mark.points(1)
def test_rows_sum_to_one(student, reference, generator):
    x = torch.randn(6, 9, generator=generator) * 5
    out = expect_tensor(student.softmax(x, dim=1), "softmax(x, dim=1)", shape=x.shape, finite=True)
    # The property counts only for an output computed from x (a uniform 1/n passes it).
    expect_computed(out, reference.softmax(x, dim=1), "softmax(x, dim=1)", dim=1)
    sums = out.sum(dim=1)
    worst = (sums - 1).abs().max().item()
    expect(worst < 1e-5, f"softmax(x, dim=1) should sum to 1 along dim 1; a sum is off by {worst:.3g}")
    expect(bool((out >= 0).all()), "softmax output has negative entries")


@pytest.mark.points(1)
def test_input_not_modified(student, reference, generator):
    x = torch.randn(4, 5, generator=generator)
    # The worker works on its own copy of x: ask for that copy back after the call.
    call = call_with_inputs(student.softmax, x, dim=-1)
    expect_close(call.output, reference.softmax(x, dim=-1), "softmax(x, dim=-1)")
    expect_equal_tensors(call.args[0], x, "the input x (softmax modified it in place: write to a new tensor)")


@pytest.mark.points(2)
def test_gradients_match_reference(student, reference, generator):
    x = torch.randn(3, 6, generator=generator, dtype=torch.float64).requires_grad_()
    g = torch.randn(3, 6, generator=generator, dtype=torch.float64)
    got = vjp(student.softmax, x, dim=-1, grad_output=g)
    want = vjp(reference.softmax, x, dim=-1, grad_output=g)
    # An output in another dtype (a float32 softmax of float64 x), or computed in one and
    # cast back, is the dtype check's to report: its gradient is held to that dtype's
    # tolerance here.
    expect_close(got.input_grads[0], want.input_grads[0], "the gradient of softmax with respect to x",
                 precision=output_dtypes(got.output, want.output))


@pytest.mark.points(1)
def test_batch_elements_independent(student, reference, generator):
    x = torch.randn(4, 8, generator=generator)
    full = expect_close(student.softmax(x, dim=-1), reference.softmax(x, dim=-1), "softmax(x, dim=-1)")
    single = expect_tensor(student.softmax(x[2:3].clone(), dim=-1), "softmax of row 2 alone", shape=(1, 8), finite=True)
    expect_close(single, full[2:3], "softmax of row 2 alone", hint="Each row must be normalised on its own",
                 against="row 2 of your softmax of the whole batch")
