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
from collections import Counter
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


def _bound_names(node: ast.AST) -> list[str]:
    """The names ``node`` binds: an assignment's or a loop's target, an argument, a def or
    class, an import, ``except E as h``, a match capture."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        return [node.id]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs,
                         ast.MatchStar)):  # fmt: skip
        return [node.name] if node.name else []
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    return []


def _self_test_calls(tree: ast.Module) -> set[int]:
    """The ids of the nodes called in place (``f(...)``: the ``f``) in code that only tests:
    statements at the module's top level that define nothing (they run once, at import: a
    notebook's cell printing ``torch.allclose(softmax(x), torch.softmax(x, -1))``) and the
    bodies of ``test...`` functions and methods. A forbidden name called there is a
    comparison, not the graded code; the same name used as a value (passed, bound, kept:
    ``functools.partial(torch.softmax)``), or called in a function, class or lambda a check
    could reach, still counts."""
    regions: list[ast.AST] = []
    for top in tree.body:
        if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            regions.append(top)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            regions += node.body
    exempt: set[int] = set()
    for region in regions:
        todo = [region]
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # code kept for later, which a check could reach
            if isinstance(node, ast.Call):
                exempt.add(id(node.func))
            todo.extend(ast.iter_child_nodes(node))
    return exempt


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
        self.self_test_calls = _self_test_calls(tree)
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
        self.classes: set[str] = set()  # classes the module defines
        self.class_bindings: dict[str, int] = {}
        self.own_attributes: set[str] = set()  # self.X = OwnClass(...)
        # Names that stand for the module's own classes or instances: self, cls, a class,
        # a module-level name bound once to an instance (see _own_instances).
        self.own_objects: set[str] = set()
        self.found: dict[tuple[str, int], Use] = {}

    def run(self) -> list[Use]:
        self._collect()
        for node in self.nodes:
            if id(node) in self.self_test_calls and not self._is_class(node):
                # Called in place where only tests run (see _self_test_calls). Not a class:
                # what it makes (nn.Softmax(dim=-1)) is an object the graded code may keep.
                continue
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
                    self.classes.add(node.name)
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
        self._own_objects()

    def _own_objects(self) -> None:
        """Which names stand for the module's own objects: its classes and ``self``/``cls``
        (as a method's first parameter), a module-level name bound to an instance of one
        (``_impl = StableSoftmax()``), and attributes ``self.X = StableSoftmax()`` (a name
        bound more than once, anywhere, could be anything there)."""
        receivers = {id(item.args.args[0]) for node in self.nodes if isinstance(node, ast.ClassDef) for item in node.body
                     if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.args.args}  # fmt: skip
        bindings = Counter(name for node in self.nodes if id(node) not in receivers for name in _bound_names(node))
        self.class_bindings = {name: bindings[name] for name in self.classes}
        self.own_objects |= {name for name in self.classes if bindings[name] == 1}
        self.own_objects |= {name for name in ("self", "cls") if not bindings[name]}
        for node in self.nodes:
            if isinstance(node, ast.Assign) and self._makes_own(node.value):
                for target in node.targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self"):  # fmt: skip
                        self.own_attributes.add(target.attr)
        for top in self.tree.body:
            if isinstance(top, (ast.Assign, ast.AnnAssign)):
                targets = top.targets if isinstance(top, ast.Assign) else [top.target]
                if (len(targets) == 1 and isinstance(targets[0], ast.Name) and bindings[targets[0].id] == 1
                        and self._makes_own(top.value)):  # fmt: skip
                    self.own_objects.add(targets[0].id)

    def _makes_own(self, value: ast.AST | None) -> bool:
        """``Helper(...)``: an instance of one of the module's classes."""
        return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in self.classes
                and self.class_bindings.get(value.func.id, 0) == 1)  # fmt: skip

    def _is_class(self, node: ast.AST) -> bool:
        """Whether ``node`` names a class (by Python's naming: Softmax, MultiheadAttention)."""
        dotted = self._resolve(node)
        if dotted is None:
            dotted = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        return dotted.rsplit(".", 1)[-1][:1].isupper()

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
        own = (isinstance(base, ast.Name) and base.id in self.own_objects) or self._makes_own(base)
        if own and (attr in self.own_methods or (isinstance(base, ast.Name) and base.id == "self"
                                                 and attr in self.own_attributes)):  # fmt: skip
            return  # its own method of that name (self.softmax, Helper.softmax, _impl.softmax, Helper().softmax)
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

            del __init__.__wrapped__  # functools.wraps' way back to the unwatched original
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

            del wrapper.__wrapped__  # functools.wraps' way back to the unwatched original
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
