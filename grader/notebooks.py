"""Exercises as Jupyter notebooks, and notebooks back into the module the grader loads.

``grade notebook softmax`` writes ``softmax.ipynb`` (nbformat v4): the handout as
markdown, the stub as a code cell tagged for grading, a scratch cell, and a cell that
runs the checks on the saved notebook. ``grade exercise softmax --submission
softmax.ipynb`` turns the notebook back into ``softmax.py``: the cells tagged for grading,
or, if none is tagged, every code cell; shell (``!``) and magic (``%``) lines are dropped.

Our cell metadata lives under one key, validated whenever a notebook is read::

    cell.metadata["course_grader"] = {"schema": 1, "exercise": "softmax", "role": "submission"}

    schema    1 (an int; other values are refused, so a newer format is never misread)
    exercise  the exercise name the notebook was written for
    role      handout | setup | submission | scratch | grade; only "submission" cells are graded

A file that is not JSON, not nbformat v4 or carries malformed metadata gets a one-line
:class:`NotebookError` naming the file (the CLI exits 2 with it).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path


METADATA_KEY = "course_grader"
SCHEMA = 1
ROLES = ("handout", "setup", "submission", "scratch", "grade")
SUBMISSION = "submission"
_FIELDS = {"schema", "exercise", "role"}
# nbformat validates some 100 us a cell, twice, in the trusted process: a 32 MB file of
# 300,000 empty cells would cost a minute. A real notebook has hundreds.
MAX_CELLS = 20_000
# A notebook file, outputs and all (its code cells may hold grader.submission.MAX_SOURCE_BYTES).
MAX_NOTEBOOK_BYTES = 64 * 2**20
# JSON objects and lists in a notebook file, counted before it is parsed (a notebook of 20,000
# cells with outputs holds some 200,000).
MAX_NOTEBOOK_CONTAINERS = 1_000_000
_CLEAR_OUTPUTS = "(clear its outputs: Kernel > Restart & Clear Output, then save)"


class NotebookError(ValueError):
    """A notebook cannot be graded; the message is one line and names the file."""


# --------------------------------------------------------------------------- reading


def read_notebook(path: Path):
    """Parse and validate ``path`` as an nbformat v4 notebook with well-formed metadata."""
    import nbformat

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"{path}: {size / 2**20:.0f} MiB, more than the {MAX_NOTEBOOK_BYTES // 2**20} MiB a notebook "
                                f"may have {_CLEAR_OUTPUTS}")  # fmt: skip
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotebookError(f"{path}: cannot read the notebook ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise NotebookError(f"{path}: not a notebook (the file is not UTF-8 text)") from None
    containers = text.count("{") + text.count("[")  # before parsing, which costs far more
    if containers > MAX_NOTEBOOK_CONTAINERS:
        raise NotebookError(f"{path}: {containers:,} JSON objects and lists, more than the {MAX_NOTEBOOK_CONTAINERS:,} "
                            f"a notebook may hold {_CLEAR_OUTPUTS}")  # fmt: skip
    try:
        doc = json.loads(text)
    except MemoryError:
        raise NotebookError(f"{path}: not a notebook the grader can read: its JSON took too much memory") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{path}: not a notebook: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise NotebookError(f"{path}: not a notebook: its JSON is nested too deep") from None
    if not isinstance(doc, dict) or "cells" not in doc and "worksheets" not in doc:
        raise NotebookError(f"{path}: not a notebook: the JSON has no cells")
    cells = doc.get("cells")
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise NotebookError(f"{path}: {len(cells)} cells, more than the {MAX_CELLS} a notebook may have")
    version = doc.get("nbformat")
    if version != 4:
        raise NotebookError(
            f"{path}: an nbformat v{version} notebook; only v4 notebooks can be graded "
            "(open it in Jupyter and save it again to convert it)"
        )
    try:
        # reads() joins the line lists sources are stored as; validate() is strict. Both cost
        # ~2 s per MB whatever the JSON holds, so they see only what is graded: the cells'
        # outputs and attachments, and the text of cells that are not code, are left out
        # (a notebook of 600,000 one-letter outputs took 39 s of the trusted side).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(_graded_parts(doc)), as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises ValidationError and assorted others, some without text
        lines = str(getattr(exc, "message", exc)).strip().splitlines()
        first = (lines[0] if lines else type(exc).__name__)[:200]
        raise NotebookError(f"{path}: not a valid nbformat v4 notebook: {first}") from None
    for index, cell in enumerate(nb.cells, start=1):
        _check_metadata(path, index, cell.get("metadata", {}).get(METADATA_KEY))
    return nb


def _graded_parts(doc: dict) -> dict:
    """``doc`` (a notebook's JSON) without what grading never reads: outputs, attachments,
    the source of markdown and raw cells (each cell stays, so cell numbers do not move), and
    metadata other than ours and the cells' tags (a cell's metadata may hold anything:
    millions of empty objects cost nbformat 3.4 GB)."""
    cells = doc.get("cells")
    if not isinstance(cells, list):
        return doc  # validate() says what is wrong
    kept = []
    for cell in cells:
        if isinstance(cell, dict):
            cell = {k: v for k, v in cell.items() if k != "attachments"}
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
            elif "source" in cell:
                cell["source"] = ""
            if isinstance(cell.get("metadata"), dict):
                cell["metadata"] = {k: v for k, v in cell["metadata"].items() if k in (METADATA_KEY, "tags")}
        kept.append(cell)
    out = {**doc, "cells": kept}
    if isinstance(doc.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in doc["metadata"].items() if k in ("kernelspec", "language_info")}
    return out


def _check_metadata(path: Path, index: int, meta) -> None:
    if meta is None:
        return
    where = f"{path}: cell {index} has invalid {METADATA_KEY} metadata"
    if not isinstance(meta, dict):
        raise NotebookError(f"{where}: expected an object, got {type(meta).__name__}")
    schema = meta.get("schema")
    if type(schema) is not int or schema != SCHEMA:
        raise NotebookError(f"{where}: schema {schema!r} is not {SCHEMA} (written by another version of the grader?)")
    unknown = set(meta) - _FIELDS
    if unknown:
        raise NotebookError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if not isinstance(meta.get("exercise"), str) or not meta["exercise"]:
        raise NotebookError(f"{where}: 'exercise' must be a non-empty string")
    if meta.get("role") not in ROLES:
        raise NotebookError(f"{where}: 'role' must be one of {', '.join(ROLES)}, got {meta.get('role')!r}")


def _role(cell) -> str | None:
    meta = cell.get("metadata", {}).get(METADATA_KEY)
    return meta.get("role") if isinstance(meta, dict) else None


_SHELL_OR_MAGIC = re.compile(r"^(\s*)[!%]")


# Cell magics whose body is plain Python that Jupyter runs (timed, captured, profiled):
# graded, the body runs as it is. Any other cell magic (%%bash, %%html, %%writefile) is not Python.
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")


def _python_only(source: str) -> str | None:
    """A cell's source without shell/magic lines; None for a cell magic (%%bash, ...) whose
    body is not Python."""
    stripped = source.lstrip()
    if stripped.startswith("%%"):
        magic = stripped[2:].split(None, 1)[0] if stripped[2:].strip() else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None
    lines = []
    for line in source.splitlines():
        match = _SHELL_OR_MAGIC.match(line)
        # ``pass`` keeps an indented block valid and the line numbers unchanged.
        lines.append(f"{match.group(1)}pass  # removed for grading: {line.strip()[:60]}" if match else line)
    return "\n".join(lines)


@dataclass(frozen=True)
class NotebookModule:
    """A notebook as the module the grader loads (:func:`notebook_module`)."""

    source: str
    # One line the student reads beside the grade (ExerciseResult.problem), about how the
    # cells were read: a function or class that two graded cells define. "" when none.
    note: str = ""


def notebook_to_source(path: Path, exercise: str | None = None) -> str:
    """The source of :func:`notebook_module`."""
    return notebook_module(path, exercise).source


def notebook_module(path: Path, exercise: str | None = None) -> NotebookModule:
    """The Python module a notebook stands for: its tagged cells, else all its code cells.

    The module's first two lines say where it came from; the second (``# grader-cells:``
    and JSON) maps its lines back to the notebook's cells (:func:`cell_location`) and names
    what the cells left out define (:func:`defined_elsewhere`), so an error is reported as
    "cell 4, line 3" and a NameError can say that only the tagged cell is graded.

    Raises :class:`NotebookError` (one line, naming the file) for anything unusable.
    """
    from grader.submission import MAX_SOURCE_BYTES, too_much_code

    path = Path(path)
    nb = read_notebook(path)
    code = [(i, c) for i, c in enumerate(nb.cells, start=1) if c.cell_type == "code"]
    size = sum(len(c.source) for _, c in code)  # every cell is parsed below, graded or not
    if size > MAX_SOURCE_BYTES:
        raise NotebookError(f"{path}: its code cells have {too_much_code(size)}")
    tagged = [(i, c) for i, c in code if _role(c) == SUBMISSION]
    if exercise is not None:
        names = {c.metadata[METADATA_KEY]["exercise"] for _, c in tagged}
        if names and exercise not in names:
            raise NotebookError(f"{path}: a notebook for {', '.join(sorted(names))}, not for {exercise}")
    chosen = tagged or code
    which = "the cells tagged for grading" if tagged else "all code cells"
    parts, starts, graded_sources = [], [], []
    line = 4  # lines 1-2: the header; 3: blank; 4: the first cell's marker
    for index, cell in chosen:
        source = _python_only(cell.source)
        if source is None:
            continue
        graded_sources.append((index, source))
        parts.append(f"{CELL_MARKER.format(index)}\n{source}")
        starts.append([index, line + 1])
        line += 1 + len(source.split("\n")) + 1  # marker, source, blank separator
    if not parts:
        raise NotebookError(f"{path}: the notebook has no code cells to grade")
    graded = {i for i, _ in chosen}
    left_out = [(i, c) for i, c in code if i not in graded] if tagged else []
    cell_map = {
        "notebook": path.name,
        "tagged": bool(tagged),
        "cells": starts,
        "left_out": len(left_out),
        "defined_elsewhere": _top_level_names(left_out),
        # A left-out cell that may define names no scan can list (from x import *, or
        # definitions inside a top-level if/try): a NameError may come from there too.
        "opaque": _defines_unknown_names(left_out),
    }
    header = f"{HEADER_PREFIX}{path.name}: {which}.\n{MAP_PREFIX}{json.dumps(cell_map, separators=(',', ':'))}"
    return NotebookModule("\n\n".join([header, *parts]) + "\n", _redefinitions(graded_sources))


def _redefinitions(cells: list[tuple[int, str]]) -> str:
    """A note naming each function or class that more than one graded cell defines at top
    level, and the cell the grader uses: the module runs the cells in order, so the last
    definition is the one checked, and a student who edited an earlier copy would see no
    change in the grade without knowing why. "" when every name is defined once."""
    cells_of: dict[str, list[int]] = {}
    for index, source in cells:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue  # importing the module reports it
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found = cells_of.setdefault(node.name, [])
                if index not in found:  # twice in one cell is the same as in a .py: no note
                    found.append(index)
    names_of: dict[tuple[int, ...], list[str]] = {}  # a copied cell repeats all its names at once
    for name, found in cells_of.items():
        if len(found) > 1:
            names_of.setdefault(tuple(found), []).append(name)
    notes = []
    for found, names in names_of.items():
        shown = names[:3] + ([f"{len(names) - 3} more"] if len(names) > 3 else [])
        earlier = "cell" + ("s " if len(found) > 2 else " ") + _listed([str(i) for i in found[:-1]])
        notes.append(f"{_listed(shown)} {'is' if len(names) == 1 else 'are'} defined in {earlier} and again in "
                     f"cell {found[-1]}; the grader uses cell {found[-1]}'s")  # fmt: skip
    return "; ".join(notes)


def _listed(items: list[str]) -> str:
    """The items as a phrase: a; a and b; a, b and c."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


HEADER_PREFIX = "# Generated by the grader from "
MAP_PREFIX = "# grader-cells: "
CELL_MARKER = "# --- cell {} ---"
_MAX_NAMES = 500


def _top_level_names(cells) -> dict[str, int]:
    """Name -> the first of ``cells`` (index, cell) that defines it at top level."""
    names: dict[str, int] = {}
    for index, cell in cells:
        source = _python_only(cell.source)
        try:
            tree = ast.parse(source or "")
        except (SyntaxError, ValueError, MemoryError, RecursionError):  # nested past the parser
            continue
        for node in tree.body:
            found: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found = [node.name]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found = [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                if isinstance(node, ast.With):
                    targets = [item.optional_vars for item in node.items]
                for target in targets:
                    if target is not None:
                        found += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
            for name in found:
                if len(names) < _MAX_NAMES:
                    names.setdefault(name, index)
    return names


def _defines_unknown_names(cells) -> bool:
    for _, cell in cells:
        try:
            tree = ast.parse(_python_only(cell.source) or "")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return True
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                return True
            if isinstance(node, (ast.If, ast.Try, ast.While, ast.Match)):
                return True
    return False


# --------------------------------------------------------------------------- generated modules

_maps: dict[str, dict | None] = {}


def _cell_map(filename: str, lines: list[str] | None = None) -> dict | None:
    """The map in a module made by :func:`notebook_to_source`, or None for any other file.

    Runs in the worker (the file was just imported), so stdlib only, and never raises."""
    if filename not in _maps:
        cell_map = None
        try:
            if lines is None:
                import linecache

                lines = linecache.getlines(filename)
            if len(lines) > 1 and lines[0].startswith(HEADER_PREFIX) and lines[1].startswith(MAP_PREFIX):
                doc = json.loads(lines[1][len(MAP_PREFIX):])
                if _well_formed(doc):
                    cell_map = doc
        except Exception:  # noqa: BLE001 - an unreadable map means: report the file's own lines
            cell_map = None
        _maps[filename] = cell_map
    return _maps[filename]


def _well_formed(doc) -> bool:
    """Whether ``doc`` has the shape notebook_to_source writes. A submitted .py may carry a
    header of its own: whatever it holds, reading it never fails (the trusted side's scan
    of forbidden calls places uses with it)."""
    return (isinstance(doc, dict) and isinstance(doc.get("notebook", ""), str)
            and isinstance(doc.get("cells"), list)
            and all(isinstance(e, list) and len(e) == 2 and all(type(v) is int for v in e) for e in doc["cells"])
            and isinstance(doc.get("defined_elsewhere", {}), dict))  # fmt: skip


def cell_location(filename: str, lineno: int | None, lines: list[str] | None = None) -> tuple[str, int, int] | None:
    """(notebook name, cell number, line in that cell) for line ``lineno`` of a module made
    from a notebook; None for another file or a line outside every cell (the header)."""
    cell_map = _cell_map(filename, lines)
    if cell_map is None or not lineno:
        return None
    found = None
    for index, start in cell_map["cells"]:
        if start <= lineno:
            found = (cell_map.get("notebook", ""), index, lineno - start + 1)
    return found


def defined_elsewhere(filename: str, name: str) -> tuple[str, int | None] | None:
    """For a module made from the tagged cells of a notebook: (notebook name, the untagged
    cell that defines ``name``), or (notebook name, None) when a left-out cell may define it
    in a way no scan lists; None when no left-out cell defines it (a typo, say)."""
    cell_map = _cell_map(filename)
    if cell_map is None or not cell_map.get("tagged") or not cell_map.get("left_out"):
        return None
    cell = (cell_map.get("defined_elsewhere") or {}).get(name)
    if isinstance(cell, int):
        return str(cell_map.get("notebook", "")), cell
    return (str(cell_map.get("notebook", "")), None) if cell_map.get("opaque") else None


# --------------------------------------------------------------------------- writing


def _meta(spec, role: str) -> dict:
    return {METADATA_KEY: {"schema": SCHEMA, "exercise": spec.name, "role": role}}


def _handout_markdown(spec, docstring: str) -> str:
    # The stubs' docstrings use reST literals (``x``); Markdown wants single backticks.
    body = re.sub(r"``([^`]+)``", r"`\1`", docstring)
    header = f"# {spec.title}\n\n"
    if spec.section:
        header += f"*Course section: {spec.section}*\n\n"
    return header + body


def _split_stub(source: str) -> tuple[str, str]:
    """(module docstring, the code after it)."""
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree) or ""
    if docstring and tree.body and isinstance(tree.body[0], ast.Expr):
        lines = source.splitlines()
        source = "\n".join(lines[tree.body[0].end_lineno :])
    return docstring, source.strip("\n") + "\n"


def make_notebook(spec, filename: str | None = None):
    """A v4 notebook for ``spec``: handout, stub (tagged for grading), scratch, checks.

    ``filename`` is the name the notebook will be saved under; the checks cell grades that
    file (default ``<exercise>.ipynb``).
    """
    import nbformat
    from nbformat import v4

    filename = filename or f"{spec.name}.ipynb"
    docstring, code = _split_stub(Path(spec.stub).read_text())
    cells = [v4.new_markdown_cell(_handout_markdown(spec, docstring), metadata=_meta(spec, "handout"))]
    if spec.requires:
        cells.append(v4.new_code_cell(
            "# Lets this notebook import your other course modules by name "
            f"({', '.join(m + '.py' for m in spec.requires)}).\n"
            "import sys\nfrom pathlib import Path\n\nimport exercises\n\n"
            "sys.path[:0] = [str(p) for p in Path(exercises.__file__).parent.iterdir() if p.is_dir()]\n",
            metadata=_meta(spec, "setup"),
        ))  # fmt: skip
    cells.append(v4.new_markdown_cell(
        "## Your solution\n\nWrite your code in the next cell: it is the cell the grader reads "
        f"(it is tagged `{SUBMISSION}` in its metadata). Keep the names and signatures as given.",
        metadata=_meta(spec, "handout"),
    ))  # fmt: skip
    submission = v4.new_code_cell(code, metadata=_meta(spec, SUBMISSION))
    submission.metadata["tags"] = [SUBMISSION]
    cells.append(submission)
    cells.append(v4.new_code_cell(
        "# Scratch space: try your code here. This cell is not graded.\n",
        metadata=_meta(spec, "scratch"),
    ))  # fmt: skip
    cells.append(v4.new_markdown_cell(
        "## Check your work\n\nSave the notebook first (the grader reads the file), then run the "
        "next cell. It runs the same checks your instructor will, on the cell tagged for grading.",
        metadata=_meta(spec, "handout"),
    ))  # fmt: skip
    cells.append(v4.new_code_cell(f"!grade exercise {spec.name} --submission {filename}", metadata=_meta(spec, "grade")))
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def write_notebook(spec, out: Path) -> Path:
    import nbformat

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(make_notebook(spec, out.name), str(out))
    return out


__all__ = [
    "NotebookError", "NotebookModule", "cell_location", "defined_elsewhere", "make_notebook", "notebook_module",
    "notebook_to_source", "read_notebook", "write_notebook",
]  # fmt: skip
