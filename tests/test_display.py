"""The table a student reads (grader.display): check, result, points; each message once below it."""

from __future__ import annotations

import io

from rich.console import Console

from grader.display import exercise_table, group_messages, print_exercise
from grader.results import CheckResult, ExerciseResult


def render(result: ExerciseResult, width: int = 80) -> str:
    buf = io.StringIO()
    print_exercise(Console(file=buf, width=width, highlight=False, color_system=None), result)
    return buf.getvalue()


def _todo(subject: str, line: int = 30) -> str:
    return (
        f"{subject} is not implemented yet (NotImplementedError: {subject}: write me, see the handout "
        f"for the details) [at decoder_block.py, line {line}: raise NotImplementedError(\"{subject}: write me\")]"
    )


SHAPE = (
    "load_state_dict raised RuntimeError: Error(s) in loading state_dict for DecoderBlock: size mismatch for "
    "mlp.c_proj.weight: copying a param with shape torch.Size([{n}, 128]) from checkpoint, the shape in current "
    "model is torch.Size([{n}, 32]). [at decoder_block.py, line 12: block.load_state_dict(sd)]"
)


def seven_failures() -> ExerciseResult:
    checks = [
        CheckResult("test_values_match_reference", 0, 3, "failed", "softmax(x) differs from the reference: max abs error 0.9"),
        CheckResult("test_default_dim_is_last", 1, 1, "passed"),
        CheckResult("test_dtypes_preserved[float64]", 0, 1, "failed", "softmax of a float64 tensor has dtype float32"),
        CheckResult("test_dtypes_preserved[float16]", 0, 1, "failed", "softmax of a float16 tensor has dtype float32"),
        CheckResult("test_large_inputs_stay_finite", 0, 2, "failed", "contains NaN where the reference is finite"),
        CheckResult("test_input_not_modified", 0, 1, "failed", SHAPE.format(n=32)),
        CheckResult("test_gradients_match_reference", 0, 2, "failed", SHAPE.format(n=32)),
        CheckResult("test_batch_elements_independent", 0, 1, "failed", SHAPE.format(n=48)),
        CheckResult("test_non_contiguous_input", 0, 2, "failed", "a [/bold] message that looks like markup", hidden=True),
    ]
    return ExerciseResult("softmax", "cpu", 0.5, checks)


def test_compact_table_has_three_columns_and_full_parametrized_names():
    result = seven_failures()
    table = exercise_table(result)
    assert [c.header for c in table.columns] == ["check", "result", "points"]
    out = render(result)
    assert "test_dtypes_preserved[float64]" in out and "test_dtypes_preserved[float16]" in out
    assert "test_non_contiguous_input (hidden)" in out
    assert "…" not in out  # nothing truncated


def test_each_distinct_message_is_printed_once_below_the_table():
    result = seven_failures()
    out = render(result, width=400)  # one line per message: count whole messages
    for message in {c.message for c in result.checks if c.message} - {SHAPE.format(n=48)}:
        body, at, where = message.rpartition(" [at ")
        assert out.count(body or message) == 1, message
        if at:  # the location on a line of its own, never split
            assert out.count(f"\n[at {where}\n") == 1
    # A message that differs from another only in its numbers is folded into it, and said so.
    assert "size mismatch" in out and out.count("size mismatch") == 1
    assert "differ from this one only in their numbers" in out
    assert "[/bold]" in out  # student text is text, not markup
    # Below the table, after the last row: the messages.
    table_end = out.index("└")
    assert out.index("softmax of a float64 tensor") > table_end


def test_a_shared_message_lists_the_checks_that_gave_it():
    result = seven_failures()
    of_check, notes = group_messages(result)
    shared = [n for n in notes if len(n.checks) > 1]
    assert len(shared) == 1
    assert shared[0].names == ["test_input_not_modified", "test_gradients_match_reference", "test_batch_elements_independent"]
    out = render(result, width=400)
    assert "test_input_not_modified, test_gradients_match_reference, test_batch_elements_independent" in out
    # Each failing row points at its message's number.
    assert len({of_check[i].number for i in (5, 6, 7)}) == 1
    assert len(notes) == 6


def test_not_implemented_is_one_line_per_function():
    checks = [CheckResult(f"test_block_{i}", 0, 1, "failed", _todo("DecoderBlock", 104)) for i in range(10)]
    checks += [CheckResult(f"test_mlp_{i}", 0, 1, "failed", _todo("MLP", 60)) for i in range(3)]
    checks.append(CheckResult("test_passes_anyway", 1, 1, "passed"))
    out = render(ExerciseResult("decoder_block", "cpu", 0.1, checks))
    todo_lines = [line for line in out.splitlines() if "not implemented yet" in line]
    assert len(todo_lines) == 2, out
    assert "DecoderBlock" in todo_lines[0] and "10 checks" in todo_lines[0] and "decoder_block.py:104" in todo_lines[0]
    assert "MLP" in todo_lines[1] and "3 checks" in todo_lines[1]
    assert "NotImplementedError" not in out and "write me" not in out
    # Table (header, 14 rows, borders, title) + 2 lines + the score: nowhere near a line per message.
    assert len(out.splitlines()) < len(checks) + 10


def test_passing_result_prints_no_messages():
    checks = [CheckResult(f"test_{i}", 1, 1, "passed") for i in range(3)]
    out = render(ExerciseResult("softmax", "cpu", 0.1, checks))
    assert "(1)" not in out and "3/3 points" in out
