"""Human-readable results in the terminal (rich). JSON output lives in grader.results."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.results import ERROR, PASSED, CheckResult, ExerciseResult
from grader.spec import ExerciseInfo

STATUS_STYLE = {PASSED: ("PASS", "green"), "failed": ("FAIL", "red"), ERROR: ("ERROR", "magenta")}


def _points(value: float) -> str:
    return f"{value:g}"


_NOT_IMPLEMENTED = re.compile(
    r"^(?P<subject>.+?) is not implemented yet \(NotImplementedError(?:: (?P<detail>.*?))?\)(?: \[at (?P<where>.*)\])?$",
    re.DOTALL,
)
# A number standing alone (sizes, errors, indices), not one inside a word ("float16" stays).
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")


def _display_name(check: CheckResult) -> str:
    return check.name + (" (hidden)" if check.hidden else "")


@dataclass
class Note:
    """One message printed below the table, for every check that gave it (or one like it)."""

    number: int
    checks: list[CheckResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    not_implemented: str = ""  # the function a "not implemented yet" note is about

    @property
    def names(self) -> list[str]:
        return [_display_name(c) for c in self.checks]


def _note_key(message: str) -> tuple[str, str]:
    match = _NOT_IMPLEMENTED.match(message)
    if match:
        return ("todo", match.group("subject"))
    return ("message", _NUMBER.sub("#", message))


def group_messages(result: ExerciseResult) -> tuple[dict[int, Note], list[Note]]:
    """(check index -> its note, the notes in order): each distinct message once, a message
    that differs only in its numbers folded into the first, "not implemented yet" once per
    function."""
    by_key: dict[tuple[str, str], Note] = {}
    of_check: dict[int, Note] = {}
    notes: list[Note] = []
    for index, check in enumerate(result.checks):
        if not check.message:
            continue
        key = _note_key(check.message)
        note = by_key.get(key)
        if note is None:
            note = by_key[key] = Note(len(notes) + 1, not_implemented=key[1] if key[0] == "todo" else "")
            notes.append(note)
        note.checks.append(check)
        if check.message not in note.messages:
            note.messages.append(check.message)
        of_check[index] = note
    return of_check, notes


def exercise_table(result: ExerciseResult, title: str = "", notes: dict[int, Note] | None = None) -> Table:
    """Check, result, points: three columns; a check with a message points at its note."""
    if notes is None:
        notes, _ = group_messages(result)
    table = Table(title=title or result.exercise, title_justify="left", show_lines=False, expand=False)
    table.add_column("check", overflow="fold")
    table.add_column("result", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    for index, check in enumerate(result.checks):
        label, style = STATUS_STYLE.get(check.status, (check.status, ""))
        cell = Text(label, style=style)
        if index in notes:
            cell.append(f" ({notes[index].number})")
        # Names and messages carry student text (exception messages, ids): plain Text, never
        # rich markup, so "[/" or "[bold]" in them is shown as written and cannot crash us.
        table.add_row(Text(_display_name(check)), cell, f"{_points(check.points)}/{_points(check.max_points)}")
    return table


def _todo_line(note: Note, total: int) -> Text:
    """``(1) DecoderBlock is not implemented yet (decoder_block.py:104), 12 checks``: one line."""
    match = _NOT_IMPLEMENTED.match(note.messages[0])
    where = re.match(r"(.+?), line (\d+)", match.group("where") or "") if match else None
    line = Text(f"({note.number}) ", style="bold") + Text(f"{note.not_implemented} is not implemented yet", style="yellow")
    if where and where.group(1) in note.not_implemented:  # "your decoder_block.py": the file is named
        line += Text(f" (line {where.group(2)})")
    elif where:
        line += Text(f" ({where.group(1)}:{where.group(2)})")
    count = len(note.checks)
    line += Text(f", {'all ' if count == total and count > 1 else ''}{count} check{'s' if count != 1 else ''}", style="dim")
    # A notebook whose function is written in a cell that is not graded (worker's hint).
    written = re.search(r"; (\S+ is written in cell \d+ of .+?, which is not graded[^)]*)\)", note.messages[0])
    if written:
        line += Text(f"\n    {written.group(1)}")
    return line


def note_texts(result: ExerciseResult, notes: list[Note]) -> list[Text]:
    """What is printed below the table: per note, a heading naming its checks, then the message."""
    out: list[Text] = []
    for note in notes:
        if note.not_implemented:
            out.append(_todo_line(note, len(result.checks)))
            continue
        out.append(Text(f"({note.number}) ", style="bold") + Text(", ".join(note.names), style="bold"))
        message, at, where = note.messages[0].rpartition(" [at ")
        if at and where.endswith("]") and message:
            # The location on a line of its own: "[at softmax.py, line 5: code]" is never split.
            out.append(Text(message))
            out.append(Text(f"[at {where}", style="dim"))
        else:
            out.append(Text(note.messages[0]))
        if len(note.messages) > 1:
            out.append(Text("(the other checks' messages differ from this one only in their numbers)", style="dim"))
    return out


def print_exercise(console: Console, result: ExerciseResult, title: str = "") -> None:
    if result.problem:
        console.print(Text(f"{result.exercise}: {result.problem}", style="yellow"))
    of_check, notes = group_messages(result)
    console.print(exercise_table(result, title, of_check))
    for text in note_texts(result, notes):
        console.print(text, overflow="fold")
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
