"""The handouts' "do not call X" rules: found in the submitted source, and seen at run time.

An exercise lists what it forbids in its spec (``ExerciseSpec.forbidden``, a tuple of
:class:`~grader.spec.Forbidden`). Two checks enforce it:

- :func:`source_uses` (trusted process): reads the submitted module with ``ast`` and finds
  every reference to a forbidden name, through import aliases (``import torch.nn.functional
  as F``, ``from torch import softmax as s``, ``F = torch.nn.functional``), ``getattr`` with a
  constant string, and method calls: ``anything.softmax(...)`` counts as
  ``torch.Tensor.softmax``. Comments, strings and a variable or function of the same name do
  not count. Any finding fails every check of the exercise.
- :class:`RuntimeGuard` (student worker only, installed before the submission is loaded):
  wraps each forbidden callable so that a call made from a submitted file is recorded with
  its line, whatever trick reached it (``getattr(torch, 'soft' + 'max')``, ``eval``). The
  reference and torch's own internals calling the same function do not count: only the
  first caller frame that is not generated code (``eval``/``exec``) is looked at. The
  worker reports what it recorded with each reply; a check during which the submission
  used a forbidden call fails. A hostile worker can undo the wrapping, which is why the
  source check exists too.

:func:`message` is the one place the student's message is worded.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from grader.spec import Forbidden

MAX_RECORDED = 20  # distinct uses a worker keeps; the first is what a student reads
TENSOR = "torch.Tensor."


@dataclass(frozen=True)
class Use:
    """One use of a forbidden name: which, where, and whether it was seen at run time."""

    name: str
    file: str  # where, as students know it: the file's base name, or a notebook's cell
    line: int
    runtime: bool = False


# --------------------------------------------------------------------------- the message


def message(uses: list[Use], rules: Iterable[Forbidden]) -> str | None:
    """What a student reads when ``uses`` is not empty: the rule and where, the first
    use in full, a few more by name and line. None when there is nothing to say."""
    if not uses:
        return None
    reasons = {r.name: r.reason for r in rules}
    first = uses[0]
    seen = "; seen at run time" if first.runtime else ""
    text = f"uses {first.name} ({first.file}, line {first.line}{seen})"
    reason = reasons.get(first.name)
    if reason:
        text += f": {reason}"
    others = []
    for use in uses[1:]:
        item = f"{use.name} (line {use.line})"
        if item not in others and not (use.name == first.name and use.line == first.line):
            others.append(item)
    if others:
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        text += "; also " + ", ".join(others[:3]) + more
    return text


def place(filename: str, line: int) -> tuple[str, int]:
    """Where a student finds line ``line`` of ``filename``: a module made from a notebook is
    its cell ("softmax.ipynb, cell 4", line in that cell), any other file its base name."""
    from grader import notebooks

    found = notebooks.cell_location(filename, line)
    if found is not None:
        notebook, cell, in_cell = found
        return f"{notebook}, cell {cell}", in_cell
    return os.path.basename(filename), line


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1:
        return False
    sides = [node.test.left, *node.test.comparators]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    texts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return isinstance(node.test.ops[0], ast.Eq) and len(names) == 1 and len(texts) == 1


def _graded_statements(body: list[ast.stmt]):
    """The statements of a module's top level (and of its top-level if/try/with/for
    blocks, not their conditions) that :func:`_may_be_graded`."""
    for node in body:
        if _is_main_guard(node):
            continue
        if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            blocks = [getattr(node, name, []) for name in ("body", "orelse", "finalbody")]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            for block in blocks:
                yield from _graded_statements(block)
        elif _may_be_graded(node):
            yield node


def _may_be_graded(node: ast.stmt) -> bool:
    """Whether a top-level statement holds code a check may run: a definition (not a
    ``test_...`` self-test), an import, or a name bound to something not computed at import."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return not node.name.startswith("test")
    if isinstance(node, (ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
        # softmax = torch.softmax or a lambda counts; expected = torch.softmax(x) ran once.
        return not isinstance(node.value, ast.Call) or any(isinstance(n, ast.Lambda) for n in ast.walk(node.value))
    return False


# --------------------------------------------------------------------------- the source check


def source_uses(path: str | Path, names: Iterable[str]) -> list[Use]:
    """Every reference to one of ``names`` in the Python file ``path``, in line order.

    A file that does not parse has none (importing it fails the checks anyway), nor one
    nested past what the parser or this scan can hold (``-----...1``, thousands deep):
    Python's own compiler refuses it too, so the submission fails to import.
    """
    names = tuple(names)
    if not names:
        return []
    path = Path(path)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
        return _SourceScan(tree, names, str(path)).run()
    except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
        return []


class _SourceScan:
    def __init__(self, tree: ast.AST, names: tuple[str, ...], path: str):
        self.tree, self.path = tree, path
        # Walked four times below: once is enough. Code under ``if __name__ == "__main__":``
        # never runs when a module is graded (a student's self-test may compare with torch's).
        self.nodes = [n for top in tree.body if not _is_main_guard(top) for n in ast.walk(top)]
        # Where a use counts: not in what only runs once at import (a notebook's cell that
        # prints torch.allclose(softmax(x), torch.softmax(x, -1)), a top-level assert) nor in
        # a self-test function (def test_...), which compute nothing a check calls. A name
        # bound at top level (softmax = torch.softmax), imported, or used inside the
        # module's other functions and classes counts.
        self.scanned = [n for top in _graded_statements(tree.body) for n in ast.walk(top)]
        self.names = set(names)
        # A forbidden name reached by another path inside torch (``torch.nn.modules.
        # activation.Softmax``, ``torch._C._VariableFunctions.softmax``) is known by its
        # last part; so is a method or attribute of an object the scan cannot name.
        self.by_last: dict[str, str] = {}
        for n in names:
            self.by_last.setdefault(n.rsplit(".", 1)[-1], n)
        for n in names:  # a method name is the Tensor method first
            if n.startswith(TENSOR):
                self.by_last[n.rsplit(".", 1)[-1]] = n
        self.aliases: dict[str, str] = {}  # local name -> dotted name it stands for
        self.stars: list[str] = []  # modules imported with *
        self.bound: set[str] = set()  # names the module defines itself
        self.own_methods: set[str] = set()  # methods defined in the module's classes
        self.own_objects: set[str] = {"self", "cls"}  # the module's classes and their instances
        self.found: dict[tuple[str, int], Use] = {}

    def run(self) -> list[Use]:
        self._collect()
        for node in self.scanned:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for a in node.names:
                    if a.name != "*":
                        self._match(f"{node.module}.{a.name}", node)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    self._match(a.name, node)
            elif isinstance(node, ast.Attribute):
                self._attribute(node.value, node.attr, node)
            elif isinstance(node, ast.Call) and _is_getattr(node):
                self._attribute(node.args[0], node.args[1].value, node)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self._name(node)
        return sorted(self.found.values(), key=lambda u: (u.line, u.name))

    # -- what the module binds

    def _collect(self) -> None:
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for a in node.names:
                    if a.name == "*":
                        self.stars.append(node.module)
                    else:
                        self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bound.add(node.name)
                if isinstance(node, ast.ClassDef):
                    self.own_objects.add(node.name)
                    for item in node.body:
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            self.own_methods.add(item.name)
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.bound.add(node.id)
        # ``F = torch.nn.functional``, ``sm = F.softmax``: a plain name for a dotted one
        # (twice, so that an alias of an alias resolves too).
        for _ in range(2):
            for node in self.nodes:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                ):
                    dotted = self._resolve(node.value)
                    if dotted is not None and dotted.split(".")[0] == "torch":
                        self.aliases[node.targets[0].id] = dotted
                    value = node.value
                    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                            and value.func.id in self.own_objects):  # fmt: skip
                        self.own_objects.add(node.targets[0].id)  # _impl = StableSoftmax()

    def _resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for, if the scan can tell."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and _is_getattr(node):
            base = self._resolve(node.args[0])
            return f"{base}.{node.args[1].value}" if base else None
        return None

    # -- what counts

    def _add(self, name: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", 0)
        file, at = place(self.path, line)
        self.found.setdefault((name, line), Use(name, file, at))

    def _match(self, dotted: str, node: ast.AST) -> None:
        if dotted in self.names:
            self._add(dotted, node)
        elif dotted.split(".")[0] == "torch" and dotted.rsplit(".", 1)[-1] in self.by_last:
            self._add(self.by_last[dotted.rsplit(".", 1)[-1]], node)

    def _attribute(self, base: ast.AST, attr: str, node: ast.AST) -> None:
        dotted = self._resolve(base)
        if dotted is not None:
            self._match(f"{dotted}.{attr}", node)
            return
        if attr not in self.by_last:
            return
        if isinstance(base, ast.Name) and base.id in self.own_objects and attr in self.own_methods:
            return  # the submission's own method of that name (self.softmax, Helper.softmax, _impl.softmax)
        self._add(self.by_last[attr], node)

    def _name(self, node: ast.Name) -> None:
        dotted = self.aliases.get(node.id)
        if dotted is not None:
            self._match(dotted, node)
        elif node.id not in self.bound:
            for module in self.stars:  # from torch.nn.functional import *
                self._match(f"{module}.{node.id}", node)


def _is_getattr(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    )


# --------------------------------------------------------------------------- the runtime check


class RuntimeGuard:
    """Wraps forbidden callables in a student worker; records calls made from submitted files.

    ``names``: dotted names (``torch.softmax``; a class is wrapped at ``__init__``; a
    ``torch.Tensor.X`` method on the Tensor class). ``files``: the submitted files.
    """

    def __init__(self, names: Iterable[str], files: Iterable[str]):
        self.files: set[str] = set()
        for f in files:
            self.files.update({str(f), os.path.realpath(f)})
        self._seen: dict[str, bool] = {}  # co_filename -> submitted?
        self._uses: list[dict] = []
        self._keys: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()
        self.wrapped: list[str] = []
        for name in names:
            if self._wrap(name):
                self.wrapped.append(name)

    def drain(self) -> list[dict]:
        """The distinct uses recorded since the last drain (one reply's worth)."""
        with self._lock:
            out, self._uses = self._uses, []
            self._keys.clear()
        return out

    def _submitted(self, filename: str) -> bool:
        known = self._seen.get(filename)
        if known is None:
            known = filename in self.files or os.path.realpath(filename) in self.files
            self._seen[filename] = known
        return known

    def _record(self, name: str, frame) -> None:
        # Code made by eval/exec/compile has a "<...>" file: look at whoever ran it.
        while frame is not None and frame.f_code.co_filename.startswith("<"):
            frame = frame.f_back
        if frame is None or not self._submitted(frame.f_code.co_filename):
            return
        key = (name, frame.f_code.co_filename, frame.f_lineno)
        with self._lock:
            if key in self._keys or len(self._keys) >= MAX_RECORDED:
                return
            self._keys.add(key)
        file, line = place(key[1], key[2])
        with self._lock:
            self._uses.append({"name": name, "file": file, "line": line})

    def _wrap(self, dotted: str) -> bool:
        parent, attr = _parent_of(dotted)
        if parent is None:
            return False
        original = getattr(parent, attr, None)
        if original is None:
            return False
        record, getframe = self._record, sys._getframe
        if isinstance(original, type):
            init = original.__init__

            @functools.wraps(init)
            def __init__(*args, **kwargs):
                record(dotted, getframe(1))
                return init(*args, **kwargs)

            try:
                original.__init__ = __init__
            except (TypeError, AttributeError):
                return False
            return True
        if not callable(original):
            return False

        try:
            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                record(dotted, getframe(1))
                return original(*args, **kwargs)
        except (TypeError, AttributeError):
            return False
        try:
            setattr(parent, attr, wrapper)
        except (TypeError, AttributeError):
            return False
        return True


def _parent_of(dotted: str) -> tuple[Any, str]:
    """The object holding the last part of ``dotted`` (a module or class), and that part.

    Only attributes of modules already imported are followed: inside the jail nothing new
    is read from disk for this.
    """
    parts = dotted.split(".")
    obj = sys.modules.get(parts[0])
    try:
        for part in parts[1:-1]:
            obj = getattr(obj, part)
    except Exception:  # noqa: BLE001 - a name this torch does not have
        return None, parts[-1]
    return obj, parts[-1]


def reported_uses(raw: Any) -> list[Use]:
    """The uses a (untrusted) worker reported, checked to be plain data."""
    out = []
    if not isinstance(raw, list):
        return out
    for item in raw[:MAX_RECORDED]:
        if not isinstance(item, dict):
            continue
        name, file, line = item.get("name"), item.get("file"), item.get("line")
        if isinstance(name, str) and isinstance(file, str) and isinstance(line, int) and not isinstance(line, bool):
            out.append(Use(name[:200], os.path.basename(file[:200]), line, runtime=True))
    return out
