"""Checks for exercise 3 (positional encoding). Run with ``grade exercise positional_encoding``."""

import pytest
import torch

from grader.compare import CheckFailure, describe_difference, expect, expect_close, expect_tensor
from grader.remote import StudentError

SIZES = [(1, 2), (10, 4), (50, 16), (33, 64), (7, 128)]
# What test_values_match_reference asks: one position at the smallest width, then ranges
# around the other SIZES (max_len, even d_model), drawn per grading seed so that a kit's
# recorded tables do not answer instructor grading.
SIZE_RANGES = [((1, 1), (2, 2)), ((8, 12), (4, 8)), ((40, 60), (12, 20)), ((28, 40), (56, 64)), ((5, 9), (120, 128))]


def _draw(generator, low: int, high: int, even: bool = False) -> int:
    """An int in [low, high] (an even one when ``even``) from the check's seeded generator."""
    if even:
        return 2 * _draw(generator, (low + 1) // 2, high // 2)
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def seeded_sizes(generator) -> list[tuple[int, int]]:
    return [(_draw(generator, *lens), _draw(generator, *widths, even=True)) for lens, widths in SIZE_RANGES]


def _encoding(namespace, max_len: int, d_model: int) -> torch.Tensor:
    """The student's table as float32 (a wrong dtype costs the dtype check only; an
    integer table is compared by its values)."""
    what = f"sinusoidal_positional_encoding({max_len}, {d_model})"
    out = expect_tensor(namespace.sinusoidal_positional_encoding(max_len, d_model), what)
    expect(not out.is_complex(), f"{what} has dtype {str(out.dtype).removeprefix('torch.')}, expected float32")
    return out.float()


def _row(t: torch.Tensor, n: int = 6) -> str:
    values = ", ".join(f"{v:.3g}" for v in t[:n].tolist())
    return f"[{values}{', ...' if t.numel() > n else ''}]"


def frequency_hint(pe: torch.Tensor, max_len: int, d_model: int):
    """A hint (evidence first): when row 0 is [0, 1, 0, 1, ...] and each (sin, cos) column
    pair lies on the unit circle, the layout is right and the frequencies are not; say
    which column pair first has the wrong angle, as the student's table shows it."""

    def hint() -> str | None:
        if max_len < 2 or tuple(pe.shape) != (max_len, d_model) or d_model < 2:
            return None
        p = pe.double()
        row0 = torch.zeros(d_model, dtype=torch.float64)
        row0[1::2] = 1.0
        radius = p[:, 0::2] ** 2 + p[:, 1::2] ** 2
        if not torch.allclose(p[0], row0, atol=1e-4) or not torch.allclose(radius, torch.ones_like(radius), atol=1e-3):
            return None
        got = torch.atan2(p[1, 0::2], p[1, 1::2])  # the angle at position 1, per column pair
        want = 1.0 / torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        bad = ((got - want).abs() > 1e-4).nonzero()
        if not len(bad):
            return None
        ratio = got / want
        if len(bad) == len(want) and float((ratio - ratio[0]).abs().max()) < 1e-3 * abs(float(ratio[0])):
            # Every pair off by one factor: the frequencies are right, position 1 is not 1.
            return (f"sin/cos are interleaved correctly and the frequencies too, but every column pair's angle at "
                    f"position 1 is {float(ratio[0]):.4g} times the expected one: the positions are scaled. Row p "
                    f"holds position p itself (torch.arange(max_len)), not positions spread over [0, 1] or normalised")
        i = int(bad[0])
        integer = " (integer division? 2i // d_model is 0: divide as floats)" if abs(float(got[i]) - 1.0) < 1e-4 and i else ""
        return (f"sin/cos are interleaved correctly but the frequencies are wrong: at position 1 columns {2 * i}, {2 * i + 1} "
                f"hold the angle {float(got[i]):.6g}, expected 1 / 10000^({2 * i}/{d_model}) = {float(want[i]):.6g}{integer}. "
                "Column pair i uses the angle p / 10000^(2i / d_model), with positions p and 2i as floats")

    return hint


@pytest.mark.points(1)
def test_shape(student):
    for max_len, d_model in SIZES:
        out = _encoding(student, max_len, d_model)
        expect(
            tuple(out.shape) == (max_len, d_model),
            f"sinusoidal_positional_encoding({max_len}, {d_model}) has shape {tuple(out.shape)}, "
            f"expected ({max_len}, {d_model}): one row per position, one column per feature",
        )


@pytest.mark.points(1)
def test_dtype_is_float32(student):
    out = expect_tensor(student.sinusoidal_positional_encoding(16, 8), "sinusoidal_positional_encoding(16, 8)")
    dtype = str(out.dtype).removeprefix("torch.")
    expect(
        out.dtype == torch.float32,
        f"sinusoidal_positional_encoding(16, 8) has dtype {dtype}, expected float32 "
        "(compute in float64 if you like, then cast the table with .float())",
    )


@pytest.mark.points(3)
def test_values_match_reference(student, reference, generator):
    for max_len, d_model in seeded_sizes(generator):
        expected = reference.sinusoidal_positional_encoding(max_len, d_model)
        mistakes = reference.diagnose(lambda ns: ns.sinusoidal_positional_encoding(max_len, d_model))
        got = _encoding(student, max_len, d_model)
        expect_close(
            got,
            expected,
            f"sinusoidal_positional_encoding({max_len}, {d_model})",
            mistakes=mistakes,
            hint=frequency_hint(got, max_len, d_model),
        )


@pytest.mark.points(2)
def test_even_columns_sine_odd_columns_cosine(student):
    max_len, d_model = 40, 16
    pe = _encoding(student, max_len, d_model)
    expect(tuple(pe.shape) == (max_len, d_model), f"sinusoidal_positional_encoding(40, 16) has shape {tuple(pe.shape)}")
    what = "sinusoidal_positional_encoding(40, 16)"
    # Position 0: every angle is 0, so sin = 0 (even columns) and cos = 1 (odd columns).
    row0 = torch.tensor([0.0, 1.0] * (d_model // 2))
    expect(
        torch.allclose(pe[0], row0, atol=1e-6),
        f"{what}: row 0 (position 0) should be [0, 1, 0, 1, ...] (sin 0 in even columns, cos 0 in odd), got {_row(pe[0])}",
    )
    # Pair i = 0 has frequency 1: column 0 is sin(p), column 1 is cos(p).
    p = torch.arange(max_len, dtype=torch.float64)
    expect(
        torch.allclose(pe[:, 0].double(), torch.sin(p), atol=1e-5),
        f"{what}: column 0 should be sin(p) for p = 0, 1, 2, ... (i = 0: 10000^0 = 1), got {_row(pe[:, 0])}",
    )
    expect(
        torch.allclose(pe[:, 1].double(), torch.cos(p), atol=1e-5),
        f"{what}: column 1 should be cos(p) for p = 0, 1, 2, ..., got {_row(pe[:, 1])}",
    )
    # Columns 2i and 2i+1 are sin and cos of one angle: each pair lies on the unit circle.
    radius = pe[:, 0::2].double() ** 2 + pe[:, 1::2].double() ** 2
    worst = (radius - 1).abs().max().item()
    expect(
        worst < 1e-4,
        f"{what}: columns 2i and 2i+1 should be sin and cos of the same angle (sin^2 + cos^2 = 1), "
        f"but for some pair it is off by {worst:.3g}",
    )


@pytest.mark.points(2)
def test_large_positions_stay_accurate(student, reference, generator):
    # Narrow (the kit replays this table and each mistake's), positions up to 4096, the
    # size drawn per grading seed (a recorded table must not answer instructor grading).
    max_len, d_model = _draw(generator, 3584, 4096), _draw(generator, 12, 20, even=True)
    what = f"sinusoidal_positional_encoding({max_len}, {d_model})"
    expected = reference.sinusoidal_positional_encoding(max_len, d_model)
    mistakes = reference.diagnose(lambda ns: ns.sinusoidal_positional_encoding(max_len, d_model))
    out = _encoding(student, max_len, d_model)
    # A float32 computation of the frequencies is off by up to ~3e-4 at position 4000:
    # allowed. Anything worse (float16 positions, integer division) is not. Known
    # mistakes are matched at the same tolerance, since a float32 one is that far off too.
    loose = {"rtol": 0.0, "atol": 1e-3}
    problem = describe_difference(out, expected, **loose)
    if problem is None:
        return
    for name, wrong in mistakes.items():
        if type(wrong) is torch.Tensor and describe_difference(out, wrong, **loose) is None:
            raise CheckFailure(f"{what} {problem}. This looks like a known mistake: {name}", mistake=name)
    if tuple(out.shape) != tuple(expected.shape):
        raise CheckFailure(f"{what} {problem}")  # the shape is the whole story
    if describe_difference(out[:64], expected[:64]) is not None:
        raise CheckFailure(f"{what} {problem}; the first 64 rows are off too (see test_values_match_reference)")
    raise CheckFailure(
        f"{what} {problem}. Large positions lose precision: compute the angles in float64 and cast the table at the end"
    )


def _expect_value_error(student, max_len, d_model, why: str) -> None:
    what = f"sinusoidal_positional_encoding({max_len!r}, {d_model!r})"
    try:
        out = student.sinusoidal_positional_encoding(max_len, d_model)
    except StudentError as err:
        if err.type_name == "ValueError":
            return
        if err.type_name == "NotImplementedError":
            raise
        raise CheckFailure(f"{what} should raise ValueError ({why}), but {err}") from None
    shape = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
    raise CheckFailure(f"{what} should raise ValueError ({why}), but it returned {shape}")


@pytest.mark.points(2)
def test_rejects_bad_d_model(student):
    _expect_value_error(student, 10, 7, "an odd d_model leaves the last sin column without its cos")
    _expect_value_error(student, 10, 0, "d_model must be positive")
    _expect_value_error(student, 10, -4, "d_model must be positive")


@pytest.mark.points(1)
def test_rejects_bad_max_len(student):
    _expect_value_error(student, 0, 8, "max_len must be positive")
    _expect_value_error(student, -3, 8, "max_len must be positive")
