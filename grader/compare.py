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

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from grader.remote import Remote


class CheckFailure(AssertionError):
    """A check failed; the message is shown to the student as is.

    ``mistake``: the known mistake the output matched, which the message names too; the
    plugin records it in the check's result (CheckResult.mistake) for the reports, so
    nothing has to read it back out of the message.
    """

    def __init__(self, message: str = "", *, mistake: str | None = None):
        super().__init__(message)
        self.mistake = mistake or ""


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


def looser_tolerance(*dtypes: torch.dtype) -> tuple[float, float]:
    """The loosest (rtol, atol) of ``dtypes``: values that passed through the least
    precise of them are held to its tolerance."""
    pairs = [tolerance(d) for d in dtypes]
    return max(r for r, _ in pairs), max(a for _, a in pairs)


def _castable(a: torch.dtype, b: torch.dtype) -> bool:
    """Two dtypes whose values compare after a cast: real numbers (bool and complex
    stay a dtype difference)."""
    return all(d != torch.bool and not d.is_complex for d in (a, b))


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


_SIZE_MISMATCH = re.compile(r"size mismatch for ([\w.]+): copying a param with shape torch\.Size\(\[([\d, ]*)\]\) "
                            r"from checkpoint, the shape in current model is torch\.Size\(\[([\d, ]*)\]\)")


def load_into(module: Remote, state_dict: dict, what: str) -> Any:
    """``module.load_state_dict(state_dict, strict=False)`` (its result, for the missing and
    unexpected keys), where weights refused for their shape fail the check in a student's
    terms ("DecoderBlock(32, 4)'s mlp.c_fc.weight has shape (64, 32), where the check's
    weights have (128, 32)"), not as torch's dump from a call the student never wrote.
    ``what``: the module."""
    from grader.errors import StudentError

    try:
        return module.load_state_dict(state_dict, strict=False)
    except StudentError as exc:
        found = _SIZE_MISMATCH.search(str(exc))
        if found is None:
            raise
        name, given, own = found.groups()
        raise CheckFailure(f"{what}'s {name} has shape ({own}), where the check's weights have ({given}), so they "
                           "cannot be loaded into it (see the handout for each layer's size)") from None


def kind_of(value: Any) -> str:
    """How a message names what a call returned: "a tensor of shape (2, 3)", "a list", "an
    object of type set" (what stayed in the worker: a set, a generator, a numpy array)."""
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, Remote):
        return f"an object of type {value._type}"
    if isinstance(value, torch.Tensor):
        return f"a tensor subclass {type(value).__name__}"
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def kind_and_value(value: Any, limit: int = 240) -> str:
    """:func:`kind_of`, with the value itself where it is data ("a list: [1, 2]"); what
    stayed in the worker is known here by its type alone."""
    if isinstance(value, Remote):
        return kind_of(value)
    text = repr(value)
    return f"{kind_of(value)}: {text if len(text) <= limit else text[: limit - 4] + ' ...]'}"


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
    NaN/inf. Ask only for what the check needs: the dtype only in an exercise's dtype
    check (value comparisons cast to a common dtype, so one slip costs one check).
    """
    if type(value) is not torch.Tensor:
        raise CheckFailure(f"{what} should be a torch.Tensor, got {kind_of(value)}")
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
    *,
    strict_dtype: bool = False,
    precision: tuple[torch.dtype, ...] | None = None,
) -> str | None:
    """None when close; otherwise one sentence on how they differ (shape first).

    A different dtype is not itself a difference unless ``strict_dtype``: the values are
    compared after casting both to their common dtype, at the looser tolerance of the
    two (only the dtype check of each exercise asks for the dtype). ``precision``: more
    dtypes whose tolerance may apply (a gradient is float64 but was computed through a
    float32 output: one mistake, one deduction).

    ``against`` names what ``expected`` is, for checks that compare a submission with
    itself ("the output before the change").
    """
    if actual.shape != expected.shape:
        return f"has shape {_shape(actual)}, expected {_shape(expected)}"
    if actual.dtype == expected.dtype and actual.device == expected.device and torch.equal(actual, expected):
        # Exactly equal (a loaded weight, a copied mask): close at any tolerance. One pass
        # instead of the float64 arithmetic below (57 ms for GPT-2's wte, against 1 ms).
        return None
    cast = ""
    dtypes = (expected.dtype,)
    if actual.dtype != expected.dtype:
        if strict_dtype or not _castable(actual.dtype, expected.dtype):
            return f"has dtype {_dtype(actual.dtype)}, expected {_dtype(expected.dtype)}"
        # One mistake, one deduction: a dtype slip is the dtype check's to report. Values
        # are compared after casting both to a common dtype, at the looser tolerance of
        # the two, and a failure says so.
        common = torch.promote_types(actual.dtype, expected.dtype)
        dtypes = (actual.dtype, expected.dtype)
        cast = f" (compared as {_dtype(common)}: it has dtype {_dtype(actual.dtype)}, the reference {_dtype(expected.dtype)})"
        actual, expected = actual.detach().to(common), expected.detach().to(common)
    default_rtol, default_atol = looser_tolerance(*dtypes, *(precision or ()))
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
            f"got {a.reshape(-1)[flat].item()}, expected {e.reshape(-1)[flat].item()}{cast}"
        )
    found = _float_differences(a.reshape(-1), e.reshape(-1), rtol, atol)
    if found.nan_count:
        return (f"contains NaN ({found.nan_count} elements, first at {_index(found.nan_first, a.shape)}) where {against} "
                f"is finite{cast}")  # fmt: skip
    if found.inf_count:
        return (f"contains inf ({found.inf_count} elements, first at {_index(found.inf_first, a.shape)}) where {against} "
                f"is finite{cast}")  # fmt: skip
    if not found.over_count:
        return None
    got, want = _distinct(found.got, found.want)
    return (
        f"differs from {against}: max abs error {found.max_error:.3g} at index "
        f"{_index(found.max_at, a.shape)} (got {got}, expected {want}); {found.over_count} of {a.numel()} elements are off{cast}"
    )


# Elements compared at a time: float64 copies of a chunk, not of a whole tensor (a reply
# may hold 128 million float16 values, which as float64, several times over, took 6 GB).
CHUNK = 1 << 20


@dataclass
class _Differences:
    nan_count: int = 0
    nan_first: int = -1
    inf_count: int = 0
    inf_first: int = -1
    over_count: int = 0
    max_error: float = -1.0
    max_at: int = -1
    got: float = 0.0
    want: float = 0.0


def _float_differences(a: torch.Tensor, e: torch.Tensor, rtol: float, atol: float) -> _Differences:
    """NaN and inf where ``e`` is finite, elements off by more than ``atol + rtol * |e|``, and
    the largest error (its first place): flat ``a`` and ``e`` compared as float64, a chunk at
    a time."""
    found = _Differences()
    for start in range(0, a.numel(), CHUNK):
        a64, e64 = a[start : start + CHUNK].double(), e[start : start + CHUNK].double()
        bad_nan = torch.isnan(a64) & torch.isfinite(e64)
        count = int(bad_nan.sum())
        if count:
            found.nan_first = found.nan_first if found.nan_count else start + int(bad_nan.nonzero()[0])
            found.nan_count += count
        bad_inf = torch.isinf(a64) & torch.isfinite(e64)
        count = int(bad_inf.sum())
        if count:
            found.inf_first = found.inf_first if found.inf_count else start + int(bad_inf.nonzero()[0])
            found.inf_count += count
        if found.nan_count or found.inf_count:
            continue  # reported before any error; only their counts go on
        both_special = (torch.isnan(a64) & torch.isnan(e64)) | (torch.isinf(a64) & (a64 == e64))
        # NaN against inf (or the other way), and -inf against inf, are off without limit.
        err = torch.nan_to_num((a64 - e64).abs().masked_fill(both_special, 0.0), nan=float("inf"), posinf=float("inf"))
        found.over_count += int((err > atol + rtol * e64.abs().nan_to_num(0.0)).sum())
        at = int(err.argmax())
        if float(err[at]) > found.max_error:  # the first of equal maxima, as one argmax would
            found.max_error, found.max_at = float(err[at]), start + at
            found.got, found.want = a64[at].item(), e64[at].item()
    return found


def _distinct(got: float, want: float) -> tuple[str, str]:
    """Two numbers written with as few digits (6 at least) as show them different: a float64
    check fails on differences that 6 digits hide ("got 0.560294, expected 0.560294")."""
    for digits in (6, 9, 12, 17):
        a, b = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def matching_mistakes(actual: torch.Tensor, mistakes: Mapping[str, Any] | None,
                      expected: torch.Tensor | None = None) -> list[str]:
    """The names of the known mistakes whose output ``actual`` matches, in their order.

    A variant whose output is itself close to ``expected`` (the reference) is no evidence
    of anything on this input and is left out."""
    found = []
    for name, output in (mistakes or {}).items():
        if type(output) is not torch.Tensor or describe_difference(actual, output) is not None:
            continue
        if expected is not None and type(expected) is torch.Tensor and describe_difference(output, expected) is None:
            continue
        found.append(name)
    return found


def matching_mistake(actual: torch.Tensor, mistakes: Mapping[str, Any] | None,
                     expected: torch.Tensor | None = None) -> str | None:
    """The name of the known mistake ``actual`` matches, if any: "one of: A; or B" when the
    input cannot tell several apart (never a confident name for an ambiguous match)."""
    return mistake_phrase(matching_mistakes(actual, mistakes, expected))


def mistake_phrase(names: list[str]) -> str | None:
    if not names:
        return None
    if len(names) == 1:
        return names[0]
    return "one of " + "; or ".join(f"({i}) {n}" for i, n in enumerate(names, 1)) + " (this input cannot tell them apart)"


def mistake_sentence(names: list[str]) -> str:
    phrase = mistake_phrase(names)
    if not phrase:
        return ""
    if len(names) == 1:
        return f"This looks like a known mistake: {phrase}"
    return f"This looks like {phrase}"


def resolve_hint(hint: Any) -> str:
    """A hint is a fixed string, or a callable that looks at the evidence (only once a
    comparison has failed) and returns a sentence, or None when the evidence does not
    hold. A callable whose own calls into the submission fail gives no hint."""
    if not callable(hint):
        return hint or ""
    from grader.errors import RemoteError

    try:
        text = hint()
    except (CheckFailure, RemoteError, IndexError, ValueError, TypeError, RuntimeError):
        return ""
    return text or ""


def expect_close(
    actual: Any,
    expected: torch.Tensor,
    what: str = "output",
    *,
    rtol: float | None = None,
    atol: float | None = None,
    mistakes: Mapping[str, Any] | None = None,
    hint: Any = "",
    against: str = "the reference",
    strict_dtype: bool = False,
    precision: tuple[torch.dtype, ...] | None = None,
    evidence: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fail with a readable message unless ``actual`` is a tensor close to ``expected``.

    ``mistakes``: name -> that known mistake's output; the message names the one the
    output matches (or says which several it cannot tell apart). ``evidence``: what to
    match against the mistakes instead of ``actual`` (the submission's outputs over all
    of a check's cases, stacked, when one case alone cannot tell mistakes apart).
    ``hint``: a string or a callable (see resolve_hint), shown when no mistake matches.

    Values are compared after casting to a common dtype (see describe_difference); only
    a dtype check passes ``strict_dtype=True`` (or calls expect_tensor(dtype=...)).
    """
    actual = expect_tensor(actual, what)
    problem = describe_difference(actual, expected, rtol, atol, against, strict_dtype=strict_dtype, precision=precision)
    if problem is None:
        return actual
    message = f"{what} {problem}"
    names = matching_mistakes(actual if evidence is None else evidence, mistakes, expected if evidence is None else None)
    if names:
        message += f". {mistake_sentence(names)}"
    else:
        text = resolve_hint(hint)
        if text:
            message += f". {text}"
    # Only a mistake the input pins down is named as a field; an ambiguous match stays in the message.
    raise CheckFailure(message, mistake=names[0] if len(names) == 1 else None)


def repeat_hint(again: Callable[[], Any], first: Any, what: str = "two calls with the same input",
                why: str = "is dropout on in eval mode (call .eval(); F.dropout needs training=self.training)?",
                ) -> Callable[[], str | None]:  # fmt: skip
    """A hint (see resolve_hint) for a value check: when calling again with the same input
    gives another answer, the submission is not deterministic (dropout left on in eval
    mode, usually: ``why`` says what to look at), and that is what to say, not any fixed hint."""

    def hint() -> str | None:
        second = again()
        if type(first) is not torch.Tensor or type(second) is not torch.Tensor or first.shape != second.shape:
            return None
        if torch.equal(first, second) or describe_difference(second, first, rtol=1e-6, atol=1e-7) is None:
            return None
        return f"{what} differ: {why}"

    return hint


def first_of(*hints: Any) -> Callable[[], str | None]:
    """The first of several hints whose evidence holds."""

    def hint() -> str | None:
        for h in hints:
            text = resolve_hint(h)
            if text:
                return text
        return None

    return hint


def output_dtypes(value: Any, reference: Any = None) -> tuple[torch.dtype, ...]:
    """The floating dtypes of the tensors in a call's output (a tensor, or a tuple/list of
    them): pass as ``precision=`` to a gradient comparison, so an output computed in a
    lower precision costs the dtype check, not the gradient check too.

    With ``reference`` (the reference's output for the same call), also the precision each
    tensor's values show (:func:`shown_precision`): float64 computed in float32 and cast
    back is the same slip as a float32 output, and the dtype check reports it as one."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    dtypes = tuple(t.dtype for t in items if type(t) is torch.Tensor and t.dtype.is_floating_point)
    if reference is None:
        return dtypes
    wanted = reference if isinstance(reference, (tuple, list)) else (reference,)
    shown = (shown_precision(got, want, within_tolerance=True) for got, want in zip(items, wanted))
    return dtypes + tuple(d for d in shown if d is not None)


def shown_precision(actual: Any, expected: Any, within_tolerance: bool = False) -> torch.dtype | None:
    """The lower precision ``actual``'s values were computed in, when it differs from
    ``expected`` at its own dtype's tolerance but not at that of a less precise dtype
    (the most precise such): float64 values that match only to float32's tolerance were
    computed in float32 somewhere and cast back. None when they match at their own
    precision, at none (a real mistake), or are not comparable tensors.

    ``within_tolerance``: also float64 values within float64's tolerance but further off than
    float64 arithmetic explains. Only to be lenient with (a gradient's tolerance): a float32
    constant in an honest float64 computation shows the same."""
    if (type(actual) is not torch.Tensor or type(expected) is not torch.Tensor or actual.shape != expected.shape
            or not actual.dtype.is_floating_point or not expected.dtype.is_floating_point):  # fmt: skip
        return None
    close = describe_difference(actual, expected) is None
    if close and not (within_tolerance and _past_float64_arithmetic(actual, expected)):
        return None
    own = looser_tolerance(actual.dtype, expected.dtype)
    for dtype in sorted(TOLERANCES, key=tolerance):  # most precise first
        if tolerance(dtype)[0] > own[0] and describe_difference(actual, expected, *tolerance(dtype)) is None:
            return dtype
    return None


# float64 arithmetic, however the formula is written, stays within ~1e-13 of the reference
# on the course's inputs; float32 arithmetic cast back to float64 is ~1e-8 off. Between them,
# within float64's tolerance (1e-7), a float32 computation can hide (a mean over a few
# dozen terms): an error past this share of the values' scale (at least 1) shows it.
FLOAT64_ARITHMETIC = 1e-9


def _past_float64_arithmetic(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """float64 values further from ``expected`` than any float64 computation of them would be."""
    if actual.dtype != torch.float64 or expected.dtype != torch.float64 or actual.numel() == 0:
        return False
    a, e = actual.detach().cpu(), expected.detach().cpu()
    if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(e).all())):
        return False
    scale = max(1.0, float(e.abs().max()))
    return float((a - e).abs().max()) > FLOAT64_ARITHMETIC * scale


def expect_own_precision(actual: Any, expected: Any, what: str, inputs: str) -> None:
    """Fail, saying why, when ``actual`` has the right dtype but only a lower one's precision
    (computed in float32 and cast back to float64): the largest error alone (3e-08) does not
    tell a student what to look for. ``inputs``: what the dtype should have come from."""
    shown = shown_precision(actual, expected)
    if shown is not None:
        name = _dtype(shown)
        raise CheckFailure(f"{what} matches the reference only to {name} precision: some of it was computed in {name} "
                           f"(a {name} tensor or constant, or a cast) and cast back; compute in the dtype of {inputs}")


def within_row_correlation(actual: torch.Tensor, expected: torch.Tensor, dim: int = -1) -> float | None:
    """How well ``actual`` varies along ``dim`` as ``expected`` does: the correlation of
    the two after removing each row's mean, pooled over all rows, on the entries where
    both are finite and ``expected`` is not exactly 0 (masked entries say nothing about
    the input). None when ``expected`` does not vary within its rows."""
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    valid = torch.isfinite(a) & torch.isfinite(e) & (e != 0)
    a, e, w = a.where(valid, 0.0), e.where(valid, 0.0), valid.double()
    count = w.sum(dim=dim, keepdim=True).clamp(min=1)
    ca = (a - a.sum(dim=dim, keepdim=True) / count) * w
    ce = (e - e.sum(dim=dim, keepdim=True) / count) * w
    spread = float((ce * ce).sum())
    if spread <= 1e-24:
        return None
    return float((ca * ce).sum()) / max(spread * float((ca * ca).sum()), 1e-300) ** 0.5


def expect_computed(actual: Any, expected: torch.Tensor, what: str = "output", *, dim: int = -1,
                    threshold: float = 0.5) -> torch.Tensor:
    """Fail unless ``actual`` is computed from the input: close to ``expected`` (the
    reference on the same call), or at least varying along ``dim`` as it does (pooled
    within-row correlation >= ``threshold``). A property check (rows sum to one, masked
    entries are 0) calls this first, so a constant or uniform output earns nothing for
    having the property, while a submission with one real bug (a dtype slip, a missing
    scale) still does. Shape is required; dtype is not."""
    actual = expect_tensor(actual, what, shape=expected.shape)
    problem = describe_difference(actual, expected)
    if problem is None:
        return actual
    r = within_row_correlation(actual, expected, dim)
    if r is None:
        if describe_difference(actual, expected, rtol=0.0, atol=1e-2) is None:
            return actual
    elif r >= threshold:
        return actual
    follows = "" if r is None else f" and does not vary along dim {dim} as the reference's does (correlation {r:.2f})"
    raise CheckFailure(
        f"{what} {problem}{follows}: this check's property counts only for an output computed from its input"
    )


def expect_computed_update(actual: Any, expected: torch.Tensor, x: torch.Tensor, what: str = "output") -> torch.Tensor:
    """:func:`expect_computed` for a residual block, whose output is mostly its input ``x``
    (an identity block's output follows the reference's with correlation ~0.8): what the
    block adds to ``x`` must follow what the reference adds. Its known mistakes do (0.36 and
    up here: a missing residual, post-LN, a non-causal mask); an identity, a constant or
    noise added to ``x`` do not (|r| < 0.15). Returns ``actual``."""
    actual = expect_tensor(actual, what, shape=expected.shape)
    expect_computed(actual.to(expected.dtype) - x.to(expected.dtype), expected - x.to(expected.dtype),
                    f"what {what} adds to its input", threshold=0.25)  # fmt: skip
    return actual


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
