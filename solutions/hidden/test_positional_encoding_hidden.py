"""Instructor-only checks for exercise 3 (positional encoding); never shipped in a kit."""

import pytest

from grader.compare import expect_close, expect_tensor


@pytest.mark.hidden
@pytest.mark.points(1)
def test_hidden_wide_table(student, reference):
    expected = reference.sinusoidal_positional_encoding(64, 1024)
    mistakes = reference.diagnose(lambda ns: ns.sinusoidal_positional_encoding(64, 1024))
    out = expect_tensor(student.sinusoidal_positional_encoding(64, 1024), "sinusoidal_positional_encoding(64, 1024)")
    expect_close(out.float(), expected, "sinusoidal_positional_encoding(64, 1024)", mistakes=mistakes)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_hidden_rows_do_not_depend_on_max_len(student):
    # Position p's encoding is a function of p alone: a shorter table is a prefix of a longer one.
    # The shapes first: the rows of a table of another shape are not positions.
    long = expect_tensor(student.sinusoidal_positional_encoding(100, 32), "sinusoidal_positional_encoding(100, 32)",
                         shape=(100, 32))  # fmt: skip
    short = expect_tensor(student.sinusoidal_positional_encoding(10, 32), "sinusoidal_positional_encoding(10, 32)",
                          shape=(10, 32))  # fmt: skip
    expect_close(
        short.float(),
        long[:10].float(),
        "sinusoidal_positional_encoding(10, 32)",
        hint="The encoding of position p must not depend on max_len (do not scale positions by max_len)",
        against="the first 10 rows of your sinusoidal_positional_encoding(100, 32)",
    )
