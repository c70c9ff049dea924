"""Human-readable results in the terminal (rich). JSON output lives in grader.results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.results import ERROR, PASSED, ExerciseResult
from grader.spec import ExerciseInfo

STATUS_STYLE = {PASSED: ("PASS", "green"), "failed": ("FAIL", "red"), ERROR: ("ERROR", "magenta")}


def _points(value: float) -> str:
    return f"{value:g}"


def exercise_table(result: ExerciseResult, title: str = "") -> Table:
    table = Table(title=title or result.exercise, title_justify="left", show_lines=False, expand=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("points", justify="right")
    table.add_column("message", overflow="fold")
    for check in result.checks:
        label, style = STATUS_STYLE.get(check.status, (check.status, ""))
        name = check.name + (" (hidden)" if check.hidden else "")
        # Names and messages carry student text (exception messages, ids): plain Text, never
        # rich markup, so "[/" or "[bold]" in them is shown as written and cannot crash us.
        table.add_row(Text(name), Text(label, style=style), f"{_points(check.points)}/{_points(check.max_points)}", Text(check.message))
    return table


def print_exercise(console: Console, result: ExerciseResult, title: str = "") -> None:
    if result.problem:
        console.print(Text(f"{result.exercise}: {result.problem}", style="yellow"))
    console.print(exercise_table(result, title))
    style = "green" if result.passed else "red"
    console.print(
        Text(f"{result.exercise}: {_points(result.score)}/{_points(result.max_score)} points", style=f"bold {style}")
        + Text(f"  ({result.device}, {result.seconds:.2f} s)", style="dim")
    )


def summary_table(results: list[ExerciseResult]) -> Table:
    table = Table(title="summary", title_justify="left")
    table.add_column("exercise")
    table.add_column("passed", justify="right")
    table.add_column("points", justify="right")
    total = total_max = 0.0
    for r in results:
        passed = sum(c.status == PASSED for c in r.checks)
        style = "green" if r.passed else "red"
        table.add_row(Text(r.exercise), f"{passed}/{len(r.checks)}", Text(f"{_points(r.score)}/{_points(r.max_score)}", style=style))
        total += r.score
        total_max += r.max_score
    table.add_row(Text("total", style="bold"), "", Text(f"{_points(total)}/{_points(total_max)}", style="bold"))
    return table


def list_table(infos: list[ExerciseInfo], broken: dict[str, str]) -> Table:
    table = Table(title="exercises", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("name")
    table.add_column("title")
    table.add_column("checks", justify="right")
    table.add_column("max points", justify="right")
    for info in infos:
        visible = [c for c in info.checks if not c.hidden]
        table.add_row(str(info.spec.order), Text(info.spec.name), Text(info.spec.title), str(len(visible)), _points(info.max_points))
    for name, why in broken.items():
        table.add_row("", Text(name, style="red"), Text(f"broken plugin: {why}", style="red"), "", "")
    return table
