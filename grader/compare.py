"""Comparing a submission's output with the reference, and saying what differs.

Checks call :func:`expect_close` (and friends); each raises :class:`CheckFailure`, an
AssertionError whose message is what the student reads: a wrong type, shape or dtype,
NaN/inf where the reference is finite, the largest error and where it is, and, when the
output matches a known mistake kept beside the solution, that mistake's name.

Everything here runs in the trusted process on plain tensors: a value that is not
exactly a ``torch.Tensor`` (a subclass, a remote object) is rejected before any
arithmetic is done on it.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from grader.remote import Remote


class CheckFailure(AssertionError):
    """A check failed; the message is shown to the student as is."""


# Tolerances per dtype: loose enough for a different but correct formula (einsum,
# logsumexp, loops), tight enough to catch every known mistake.
TOLERANCES = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (1e-4, 1e-5),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (2e-2, 1e-2),
}


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get(dtype, (0.0, 0.0))


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _index(flat: int, shape: torch.Size) -> str:
    if not shape:
        return "()"
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    return "(" + ", ".join(str(i) for i in reversed(idx)) + ")"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def expect_tensor(
    value: Any,
    what: str = "output",
    *,
    shape: tuple[int, ...] | torch.Size | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    like: torch.Tensor | None = None,
    finite: bool = False,
) -> torch.Tensor:
    """Fail unless ``value`` is exactly a torch.Tensor (not a subclass, not a handle).

    Checks call it before they index or do arithmetic on a submission's output, so a
    wrong shape, dtype or device is the student's failure with a message, never an
    IndexError in the grader. ``like``: a trusted tensor whose shape, dtype and device
    the output must have (``shape``/``dtype``/``device`` override its); ``finite``: no
    NaN/inf. Ask only for what the check needs: a dtype slip is for the checks that
    compare values to report.
    """
    if type(value) is not torch.Tensor:
        if isinstance(value, Remote):
            got = f"an object of type {value._type}"
        elif isinstance(value, torch.Tensor):
            got = f"a tensor subclass {type(value).__name__}"
        else:
            got = f"a {type(value).__name__}"
        raise CheckFailure(f"{what} should be a torch.Tensor, got {got}")
    if like is not None:
        shape = like.shape if shape is None else shape
        dtype = like.dtype if dtype is None else dtype
        device = like.device if device is None else device
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise CheckFailure(f"{what} has shape {_shape(value)}, expected ({', '.join(str(s) for s in shape)})")
    if dtype is not None and value.dtype != dtype:
        raise CheckFailure(f"{what} has dtype {_dtype(value.dtype)}, expected {_dtype(dtype)}")
    if device is not None and value.device.type != torch.device(device).type:
        raise CheckFailure(f"{what} is on device {value.device.type}, expected {torch.device(device).type}")
    if value.device.type == "meta":
        raise CheckFailure(f"{what} is a tensor on the 'meta' device, which holds no values")
    if finite:
        expect_finite(value, what)
    return value


def values_close(actual: Any, expected: torch.Tensor) -> bool:
    """``torch.allclose`` that is simply False for a non-tensor or a different shape,
    dtype or device, instead of raising: for diagnosing which mistake a value shows."""
    return (
        type(actual) is torch.Tensor
        and actual.shape == expected.shape
        and actual.dtype == expected.dtype
        and actual.device == expected.device
        and bool(torch.allclose(actual, expected))
    )


def describe_difference(
    actual: torch.Tensor,
    expected: torch.Tensor,
    rtol: float | None = None,
    atol: float | None = None,
    against: str = "the reference",
) -> str | None:
    """None when close; otherwise one sentence on how they differ (shape first).

    ``against`` names what ``expected`` is, for checks that compare a submission with
    itself ("the output before the change").
    """
    if actual.shape != expected.shape:
        return f"has shape {_shape(actual)}, expected {_shape(expected)}"
    if actual.dtype != expected.dtype:
        return f"has dtype {_dtype(actual.dtype)}, expected {_dtype(expected.dtype)}"
    default_rtol, default_atol = tolerance(expected.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    a = actual.detach().to("cpu")
    e = expected.detach().to("cpu")
    if not a.dtype.is_floating_point:
        diff = a != e
        if not bool(diff.any()):
            return None
        flat = int(diff.reshape(-1).nonzero()[0])
        return (
            f"differs in {int(diff.sum())} of {a.numel()} elements; first at {_index(flat, a.shape)}: "
            f"got {a.reshape(-1)[flat].item()}, expected {e.reshape(-1)[flat].item()}"
        )
    a64, e64 = a.double(), e.double()
    bad_nan = torch.isnan(a64) & ~torch.isnan(e64)
    if bool(bad_nan.any()):
        flat = int(bad_nan.reshape(-1).nonzero()[0])
        return f"contains NaN ({int(bad_nan.sum())} elements, first at {_index(flat, a.shape)}) where {against} is finite"
    bad_inf = torch.isinf(a64) & ~torch.isinf(e64)
    if bool(bad_inf.any()):
        flat = int(bad_inf.reshape(-1).nonzero()[0])
        return f"contains inf ({int(bad_inf.sum())} elements, first at {_index(flat, a.shape)}) where {against} is finite"
    both_special = (torch.isnan(a64) & torch.isnan(e64)) | (torch.isinf(a64) & (a64 == e64))
    err = (a64 - e64).abs().masked_fill(both_special, 0.0)
    err = torch.nan_to_num(err, nan=float("inf"))
    limit = atol + rtol * e64.abs().nan_to_num(0.0)
    over = err > limit
    if not bool(over.any()):
        return None
    flat = int(err.reshape(-1).argmax())
    return (
        f"differs from {against}: max abs error {err.reshape(-1)[flat].item():.3g} at index "
        f"{_index(flat, a.shape)} (got {a64.reshape(-1)[flat].item():.6g}, expected "
        f"{e64.reshape(-1)[flat].item():.6g}); {int(over.sum())} of {a.numel()} elements are off"
    )


def matching_mistake(actual: torch.Tensor, mistakes: Mapping[str, Any] | None) -> str | None:
    """The name of the first known mistake whose output ``actual`` matches, if any."""
    for name, output in (mistakes or {}).items():
        if type(output) is torch.Tensor and describe_difference(actual, output) is None:
            return name
    return None


def expect_close(
    actual: Any,
    expected: torch.Tensor,
    what: str = "output",
    *,
    rtol: float | None = None,
    atol: float | None = None,
    mistakes: Mapping[str, Any] | None = None,
    hint: str = "",
    against: str = "the reference",
) -> torch.Tensor:
    """Fail with a readable message unless ``actual`` is a tensor close to ``expected``."""
    actual = expect_tensor(actual, what)
    problem = describe_difference(actual, expected, rtol, atol, against)
    if problem is None:
        return actual
    message = f"{what} {problem}"
    mistake = matching_mistake(actual, mistakes)
    if mistake:
        message += f". This looks like a known mistake: {mistake}"
    elif hint:
        message += f". {hint}"
    raise CheckFailure(message)


def expect_finite(actual: Any, what: str = "output") -> torch.Tensor:
    actual = expect_tensor(actual, what)
    if actual.dtype.is_floating_point and not bool(torch.isfinite(actual).all()):
        bad = ~torch.isfinite(actual)
        flat = int(bad.reshape(-1).nonzero()[0])
        kind = "NaN" if bool(torch.isnan(actual).reshape(-1)[flat]) else "inf"
        raise CheckFailure(f"{what} contains {kind} at index {_index(flat, actual.shape)} ({int(bad.sum())} non-finite values)")
    return actual


def expect_equal_tensors(actual: Any, expected: torch.Tensor, what: str) -> None:
    """Bit-for-bit equality (for 'the input was not modified' and the like)."""
    actual = expect_tensor(actual, what)
    if actual.shape != expected.shape or not torch.equal(actual, expected):
        raise CheckFailure(f"{what} changed")


def expect(condition: bool, message: str) -> None:
    """``assert`` that reads as a check: fail with exactly ``message``."""
    if not condition:
        raise CheckFailure(message)
