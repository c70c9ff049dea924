"""Notebooks: ``grade notebook`` writes one, a filled-in notebook is graded, bad files get one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from conftest import ROOT, grade_file
from grader.cli import cli
from grader.notebooks import (
    METADATA_KEY, NotebookError, make_notebook, notebook_module, notebook_to_source, read_notebook,
)
from grader.registry import load_registry

SOLUTION = (ROOT / "solutions" / "softmax.py").read_text()


@pytest.fixture
def softmax_spec():
    return load_registry().get("softmax")


def _role(cell) -> str | None:
    return cell.metadata.get(METADATA_KEY, {}).get("role")


def write_filled(path: Path, spec, source: str) -> Path:
    nb = make_notebook(spec, path.name)
    [cell] = [c for c in nb.cells if _role(c) == "submission"]
    cell.source = source
    nbformat.write(nb, str(path))
    return path


def test_generated_notebook_has_handout_tagged_stub_and_grade_cell(softmax_spec):
    nb = make_notebook(softmax_spec)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    roles = [_role(c) for c in nb.cells]
    assert roles.count("submission") == 1 and "grade" in roles
    handout = nb.cells[0]
    assert handout.cell_type == "markdown" and handout.source.startswith("# Numerically stable softmax")
    assert "numerically stable" in handout.source.lower() and "``" not in handout.source
    [stub] = [c for c in nb.cells if _role(c) == "submission"]
    assert stub.cell_type == "code" and "def softmax(x: Tensor, dim: int = -1) -> Tensor:" in stub.source
    assert '"""' not in stub.source  # the docstring became the markdown handout
    [grade_cell] = [c for c in nb.cells if _role(c) == "grade"]
    assert grade_cell.source == "!grade exercise softmax --submission softmax.ipynb"
    for cell in nb.cells:
        assert cell.metadata[METADATA_KEY] == {"schema": 1, "exercise": "softmax", "role": _role(cell)}


def test_notebook_command_writes_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "work" / "mine.ipynb"
    result = CliRunner().invoke(cli, ["notebook", "softmax", "--out", str(out)])
    assert result.exit_code == 0, result.output
    nb = read_notebook(out)
    assert nb.cells[-1].source == "!grade exercise softmax --submission mine.ipynb"
    out.write_text(out.read_text().replace("raise NotImplementedError", "return x  # my work"))
    result = CliRunner().invoke(cli, ["notebook", "softmax", "--out", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert "my work" in out.read_text()
    assert CliRunner().invoke(cli, ["notebook", "softmax", "--out", str(out), "--force"]).exit_code == 0
    assert "my work" not in out.read_text()


def test_notebook_command_unknown_exercise(tmp_path):
    result = CliRunner().invoke(cli, ["notebook", "nope", "--out", str(tmp_path / "x.ipynb")])
    assert result.exit_code == 2 and "no exercise named 'nope'" in result.output


def test_round_trip_filled_notebook_earns_full_marks(tmp_path, softmax_spec):
    path = write_filled(tmp_path / "softmax.ipynb", softmax_spec, SOLUTION)
    result = grade_file("softmax", path)
    assert result.max_score > 0 and result.score == result.max_score, [c for c in result.checks if c.status != "passed"]


def test_untouched_notebook_scores_zero_not_implemented(tmp_path, softmax_spec):
    path = tmp_path / "softmax.ipynb"
    nbformat.write(make_notebook(softmax_spec), str(path))
    result = grade_file("softmax", path)
    assert result.score == 0
    assert all("not implemented" in c.message for c in result.checks)


def test_only_tagged_cells_are_graded(tmp_path, softmax_spec):
    nb = make_notebook(softmax_spec)
    [cell] = [c for c in nb.cells if _role(c) == "submission"]
    cell.source = SOLUTION
    # Untagged scratch code that would break the module if it were included.
    nb.cells.append(nbformat.v4.new_code_cell("softmax = None\nraise RuntimeError('scratch')"))
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    source = notebook_to_source(path)
    assert "scratch" not in source and "!grade" not in source
    result = grade_file("softmax", path)
    assert result.score == result.max_score


def test_untagged_notebook_uses_all_code_cells_without_shell_and_magics(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# my softmax"),
        nbformat.v4.new_code_cell("!pip install torch\n%matplotlib inline\nimport torch"),
        nbformat.v4.new_code_cell("%%bash\necho this cell is not python"),
        nbformat.v4.new_code_cell(SOLUTION.replace("import torch\n", "") + "\nif False:\n    !ls\n"),
        nbformat.v4.new_code_cell("softmax(torch.randn(3))"),
    ])  # fmt: skip
    path = tmp_path / "work.ipynb"
    nbformat.write(nb, str(path))
    source = notebook_to_source(path)
    assert "pip install" not in source.replace("removed for grading: !pip install", "")
    assert "echo" not in source
    compile(source, "work.py", "exec")  # the `!ls` inside the if block became `pass`
    result = grade_file("softmax", path)
    assert result.score == result.max_score


def test_wrong_notebook_names_the_mistake(tmp_path, softmax_spec):
    wrong = "import torch\n\ndef softmax(x, dim=-1):\n    return x.exp() / x.exp().sum(dim=dim, keepdim=True)\n"
    result = grade_file("softmax", write_filled(tmp_path / "softmax.ipynb", softmax_spec, wrong))
    assert 0 < result.score < result.max_score
    assert any("no max subtraction" in c.message for c in result.checks)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{this is not json", "not valid JSON (line 1, column 2"),
        (json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}),
         "an nbformat v3 notebook; only v4"),
        (json.dumps([1, 2, 3]), "not a notebook"),
        (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}),
         "not a valid nbformat v4 notebook"),
    ],
    ids=["not-json", "v3", "json-list", "invalid-v4"],
)
def test_bad_notebooks_get_one_line_errors_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookError) as info:
        notebook_to_source(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and expected in message
    result = CliRunner().invoke(cli, ["exercise", "softmax", "--submission", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    [line] = [l for l in result.output.splitlines() if l.strip()]
    assert "broken.ipynb" in line and expected in line


@pytest.mark.parametrize(
    "meta, expected",
    [
        ({"schema": 2, "exercise": "softmax", "role": "submission"}, "schema 2 is not 1"),
        ({"schema": 1, "exercise": "softmax", "role": "answer"}, "'role' must be one of"),
        ({"schema": 1, "role": "submission"}, "'exercise' must be a non-empty string"),
        ({"schema": 1, "exercise": "softmax", "role": "submission", "points": 3}, "unknown field(s) points"),
        ("submission", "expected an object"),
    ],
)
def test_metadata_schema_is_validated_on_read(tmp_path, softmax_spec, meta, expected):
    nb = make_notebook(softmax_spec)
    nb.cells[2].metadata[METADATA_KEY] = meta
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(NotebookError) as info:
        notebook_to_source(path)
    assert f"{path}: cell 3 has invalid course_grader metadata" in str(info.value)
    assert expected in str(info.value)


def test_notebook_for_another_exercise_is_refused_when_asked(tmp_path, softmax_spec):
    path = write_filled(tmp_path / "softmax.ipynb", softmax_spec, SOLUTION)
    assert "def softmax" in notebook_to_source(path, exercise="softmax")
    with pytest.raises(NotebookError, match="a notebook for softmax, not for attention"):
        notebook_to_source(path, exercise="attention")


def test_generated_module_maps_its_lines_back_to_cells(tmp_path):
    from grader.notebooks import cell_location

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# notes"),
        nbformat.v4.new_code_cell("import torch\n\n%time x = 1\n"),
        nbformat.v4.new_code_cell("%%bash\necho skipped"),
        nbformat.v4.new_code_cell("a = 1\nb = 2\nc = 3"),
    ])  # fmt: skip
    path = tmp_path / "work.ipynb"
    nbformat.write(nb, str(path))
    lines = notebook_to_source(path).splitlines(keepends=True)
    for cell, cell_lines in ((2, ["import torch", ""]), (4, ["a = 1", "b = 2", "c = 3"])):
        for n, text in enumerate(cell_lines, start=1):
            [lineno] = [i for i, line in enumerate(lines, start=1) if cell_location("work.py", i, lines) == ("work.ipynb", cell, n)]
            assert lines[lineno - 1].rstrip("\n") == text
    assert cell_location("work.py", 1, lines) is None  # the header is no cell's line


def test_error_in_tagged_cell_names_the_cell_and_its_line(tmp_path, softmax_spec):
    source = "import torch\ny = 2\nraise RuntimeError('boom on the third line')\n"
    path = write_filled(tmp_path / "softmax.ipynb", softmax_spec, source)
    nb = read_notebook(path)
    [cell] = [i for i, c in enumerate(nb.cells, start=1) if _role(c) == "submission"]
    result = grade_file("softmax", path)
    assert result.score == 0
    message = result.checks[0].message
    assert f"[at softmax.ipynb, cell {cell}, line 3: raise RuntimeError('boom on the third line')]" in message, message


def test_error_inside_a_function_names_the_cell_line(tmp_path, softmax_spec):
    source = "import torch\n\ndef softmax(x, dim=-1):\n    return x.exp() / x.exp().sum(dim=dim, keepdim=True) @ x\n"
    path = write_filled(tmp_path / "softmax.ipynb", softmax_spec, source)
    result = grade_file("softmax", path)
    located = [c.message for c in result.checks if "[at " in c.message]
    assert located and all(", line 4: return x.exp()" in m and "cell " in m for m in located), located
    assert not any("softmax.py, line" in c.message for c in result.checks)


def test_name_defined_in_an_untagged_cell_says_only_the_tagged_cell_is_graded(tmp_path, softmax_spec):
    nb = make_notebook(softmax_spec)
    index = next(i for i, c in enumerate(nb.cells) if _role(c) == "submission")
    nb.cells[index].source = "def softmax(x, dim=-1):\n    e = stable_exp(x, dim)\n    return e / e.sum(dim=dim, keepdim=True)\n"
    helper = nbformat.v4.new_code_cell("def stable_exp(x, dim):\n    return (x - x.amax(dim=dim, keepdim=True)).exp()\n")
    nb.cells.insert(index, helper)  # an untagged cell above the tagged one
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    result = grade_file("softmax", path)
    assert result.score == 0
    message = result.checks[0].message
    assert "NameError" in message and "stable_exp" in message
    assert f"defined in cell {index + 1} of softmax.ipynb, which is not graded" in message, message
    assert "only the cell tagged for grading" in message
    assert f"cell {index + 2}, line 2" in message  # the tagged cell moved down by one


def test_notebooks_nested_past_the_parsers_get_one_line_errors_and_leave_nothing(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    deep = tmp_path / "deep.ipynb"
    deep.write_text('{"cells": [], "nbformat": 4, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = CliRunner().invoke(cli, ["exercise", "softmax", "--submission", str(deep)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "nested too deep" in result.output
    # An untagged cell no parser can hold: the tagged cell is still graded.
    nb = make_notebook(load_registry().get("softmax"))
    nb.cells.append(nbformat.v4.new_code_cell("x = " + "-" * 200_000 + "1"))
    tagged = next(c for c in nb.cells if c.metadata.get(METADATA_KEY, {}).get("role") == "submission")
    tagged.source = (ROOT / "solutions" / "softmax.py").read_text()
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    result = CliRunner().invoke(cli, ["exercise", "softmax", "--submission", str(path)])
    assert result.exit_code == 0, result.output
    assert not list(scratch.iterdir()), "a notebook left its converted module behind"


def test_a_notebooks_metadata_reaches_the_terminal_as_text(tmp_path):
    nb = make_notebook(load_registry().get("softmax"))
    tagged = next(c for c in nb.cells if c.metadata.get(METADATA_KEY, {}).get("role") == "submission")
    tagged.metadata[METADATA_KEY]["\x1b[2J\x1b]0;TITLE\x07"] = 1
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    result = CliRunner().invoke(cli, ["exercise", "softmax", "--submission", str(path)])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "unknown field(s) \\x1b[2J\\x1b]0;TITLE\\x07" in result.output


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 1 -r 1", "%%capture out"])
def test_a_tagged_cell_under_a_python_cell_magic_is_graded(tmp_path, softmax_spec, magic):
    result = grade_file("softmax", write_filled(tmp_path / "softmax.ipynb", softmax_spec, f"{magic}\n{SOLUTION}"))
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.points < c.max_points]


def test_a_tagged_cell_under_another_cell_magic_is_still_left_out(tmp_path, softmax_spec):
    path = write_filled(tmp_path / "softmax.ipynb", softmax_spec, f"%%bash\necho hi\n")
    with pytest.raises(NotebookError, match="no code cells to grade"):
        notebook_to_source(path)


def _name_error_message(tmp_path, spec, tagged: str, untagged: list[str]) -> str:
    nb = make_notebook(spec)
    index = next(i for i, c in enumerate(nb.cells) if _role(c) == "submission")
    nb.cells[index].source = tagged
    for source in untagged:
        nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    return grade_file("softmax", path).checks[0].message


TYPO = "def softmax(x, dim=-1):\n    e = x.exp()\n    return e / e.sum(dim=dim, keepdim=Ture)\n"


def test_a_typo_is_not_blamed_on_the_untagged_cells(tmp_path, softmax_spec):
    message = _name_error_message(tmp_path, softmax_spec, TYPO, ["import torch\nx = torch.ones(3)"])
    assert "name 'Ture' is not defined" in message and "tagged" not in message, message
    # Unless a left-out cell may define names no scan can list.
    message = _name_error_message(tmp_path, softmax_spec, TYPO, ["from math import *"])
    assert "only the cell tagged for grading is graded" in message, message


def test_jupyters_own_names_are_said_to_be_jupyters(tmp_path, softmax_spec):
    tagged = "display('hello')\n" + SOLUTION
    message = _name_error_message(tmp_path, softmax_spec, tagged, ["import torch"])
    assert "display is Jupyter's, not Python's" in message, message


def test_messages_name_the_notebook_and_its_cell_not_the_module_made_of_it(tmp_path, softmax_spec):
    path = write_filled(tmp_path / "my_work.ipynb", softmax_spec, "def softmax(x, dim=-1)\n    return x\n")
    message = grade_file("softmax", path).checks[0].message
    assert message.startswith("importing your my_work.ipynb raised SyntaxError: expected ':'"), message
    assert "softmax.py" not in message and "cell " in message and "line 1: def softmax(x, dim=-1)" in message


def test_a_function_written_in_an_untagged_cell_is_pointed_at(tmp_path, softmax_spec):
    nb = make_notebook(softmax_spec)
    index = next(i for i, c in enumerate(nb.cells) if _role(c) == "submission")  # still the stub
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(SOLUTION))  # written below, untagged
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    result = grade_file("softmax", path)
    assert result.score == 0
    hint = f"softmax is written in cell {index + 2} of softmax.ipynb, which is not graded"
    assert hint in result.checks[0].message, result.checks[0].message
    result = CliRunner().invoke(cli, ["exercise", "softmax", "--submission", str(path)])
    assert hint in " ".join(result.output.split())


# --------------------------------------------------------------------------- a function defined twice

STUB_SOFTMAX = "def softmax(x, dim=-1):\n    raise NotImplementedError\n"


def _untagged(path: Path, *sources: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), str(path))
    return path


def test_a_function_defined_in_two_graded_cells_is_noted_and_the_later_one_graded(tmp_path):
    """The student edited the first copy; the grader checks the second, as Python would, and
    says so instead of leaving them to wonder why their edit earns nothing."""
    note = "softmax is defined in cell 1 and again in cell 2; the grader uses cell 2's"
    edited_first = _untagged(tmp_path / "softmax.ipynb", SOLUTION, STUB_SOFTMAX)
    result = grade_file("softmax", edited_first)
    assert result.score == 0 and result.problem == note
    assert all("not implemented" in c.message for c in result.checks)
    out = CliRunner().invoke(cli, ["exercise", "softmax", "--submission", str(edited_first)])
    assert note in " ".join(out.output.split()), out.output
    # The score is Python's to decide, never the note's: the later copy right, full marks.
    result = grade_file("softmax", _untagged(tmp_path / "edited_last.ipynb", STUB_SOFTMAX, SOLUTION))
    assert result.score == result.max_score and result.problem == note


def test_a_copied_tagged_cell_names_every_copy_and_each_name_once(tmp_path, softmax_spec):
    nb = make_notebook(softmax_spec)
    index = next(i for i, c in enumerate(nb.cells) if _role(c) == "submission")
    nb.cells[index].source = SOLUTION + "\n\nclass Helper:\n    pass\n"
    for _ in range(2):  # Jupyter's copy and paste keeps the cell's metadata: tagged too
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(nb.cells[index].source, metadata=copy.deepcopy(nb.cells[index].metadata)))
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    first = index + 1
    assert notebook_module(path).note == (
        f"softmax and Helper are defined in cells {first} and {first + 1} and again in cell {first + 2}; "
        f"the grader uses cell {first + 2}'s")  # fmt: skip


def test_one_definition_per_name_has_no_note(tmp_path, softmax_spec):
    assert notebook_module(write_filled(tmp_path / "softmax.ipynb", softmax_spec, SOLUTION)).note == ""
    twice_in_one_cell = SOLUTION + "\n" + SOLUTION.replace("import torch\n", "")
    assert notebook_module(_untagged(tmp_path / "one.ipynb", twice_in_one_cell, "softmax(torch.ones(2))")).note == ""
    # A left-out (untagged) cell is not graded: its copy is the other hint's business.
    nb = make_notebook(softmax_spec)
    nb.cells.append(nbformat.v4.new_code_cell(SOLUTION))
    nbformat.write(nb, str(tmp_path / "tagged.ipynb"))
    assert notebook_module(tmp_path / "tagged.ipynb").note == ""


def test_the_note_reaches_the_batch_feedback_and_gradebook(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    _untagged(subs / "ada.ipynb", SOLUTION, STUB_SOFTMAX)
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["batch", str(subs), "--out", str(out), "--exercises", "softmax", "--workers", "1",
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    note = "softmax is defined in cell 1 and again in cell 2; the grader uses cell 2's"
    feedback = (out / "students" / "ada" / "feedback.txt").read_text()
    assert note in " ".join(feedback.split()), feedback
    assert "note: softmax is defined" in feedback
    assert note in (out / "grades.csv").read_text()


def test_outputs_and_prose_never_reach_the_notebook_parser(tmp_path, softmax_spec, monkeypatch):
    """nbformat costs ~2 s per MB of JSON whatever it holds: a notebook of 200,000 tiny
    outputs (or attachments, or markdown) must cost the trusted side no more than its code."""
    nb = make_notebook(softmax_spec)
    [cell] = [c for c in nb.cells if _role(c) == "submission"]
    cell.source = SOLUTION
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")] * 200_000
    nb.cells[0].source = "prose " * 100_000
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    assert path.stat().st_size > 5 * 2**20
    seen = []
    reads = nbformat.reads
    monkeypatch.setattr(nbformat, "reads", lambda text, **kw: seen.append(len(text)) or reads(text, **kw))
    source = notebook_to_source(path)
    assert "def softmax" in source
    assert seen and max(seen) < len(SOLUTION) + 20_000, seen


def test_a_notebook_past_the_size_limit_is_refused_in_one_line(tmp_path, monkeypatch):
    from grader import notebooks

    monkeypatch.setattr(notebooks, "MAX_NOTEBOOK_BYTES", 1000)
    path = tmp_path / "softmax.ipynb"
    path.write_text(json.dumps({"cells": [], "nbformat": 4, "padding": "x" * 2000}))
    with pytest.raises(NotebookError, match="more than the 0 MiB a notebook may have") as caught:
        read_notebook(path)
    assert "\n" not in str(caught.value)


def test_metadata_never_reaches_the_notebook_parser_and_containers_are_counted_first(tmp_path, softmax_spec, monkeypatch):
    """A cell's metadata may hold anything (millions of {} cost nbformat 3.4 GB): only ours and
    the tags are parsed; a file with more objects and lists than a notebook holds is refused
    before json.loads, in one line."""
    from grader import notebooks

    nb = make_notebook(softmax_spec)
    [cell] = [c for c in nb.cells if _role(c) == "submission"]
    cell.source = SOLUTION
    cell.metadata["junk"] = [{}] * 50_000
    nb.metadata["junk"] = [[]] * 50_000
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    seen = []
    reads = nbformat.reads
    monkeypatch.setattr(nbformat, "reads", lambda text, **kw: seen.append(len(text)) or reads(text, **kw))
    assert "def softmax" in notebook_to_source(path)
    assert max(seen) < len(SOLUTION) + 20_000, seen
    monkeypatch.setattr(notebooks, "MAX_NOTEBOOK_CONTAINERS", 10_000)
    with pytest.raises(NotebookError, match=r"100,0\d\d JSON objects and lists, more than the 10,000") as caught:
        read_notebook(path)
    assert "\n" not in str(caught.value)


def test_a_validation_error_without_text_is_one_line(tmp_path, softmax_spec):
    nb = make_notebook(softmax_spec)
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    doc = json.loads(path.read_text())
    doc["nbformat_minor"] = "x"  # nbformat raises a bare AssertionError
    path.write_text(json.dumps(doc))
    with pytest.raises(NotebookError, match="not a valid nbformat v4 notebook: AssertionError"):
        read_notebook(path)
