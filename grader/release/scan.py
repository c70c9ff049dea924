"""Reading source for what a kit must not hold: hidden checks, and solution function or class bodies.

:func:`strip_hidden_checks` cuts hidden checks out of a visible check file as it is copied;
:func:`scan_for_leaks` goes through every file of a finished kit.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

# --------------------------------------------------------------------------- hidden checks


def _is_hidden_marker(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target).endswith("mark.hidden")


def hidden_checks_in(tree: ast.Module) -> list[ast.AST]:
    """Top-level checks marked hidden, and a module-wide ``pytestmark`` naming hidden."""
    found: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if any(_is_hidden_marker(d) for d in node.decorator_list):
                found.append(node)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            if "mark.hidden" in ast.unparse(node.value):
                found.append(node)
    return found


def strip_hidden_checks(source: str) -> tuple[str, list[str]]:
    """``source`` without its hidden checks; the names cut out."""
    tree = ast.parse(source)
    hidden = hidden_checks_in(tree)
    if not hidden:
        return source, []
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    names = []
    for node in hidden:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        drop.update(range(first - 1, node.end_lineno))
        names.append(getattr(node, "name", "pytestmark"))
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    return re.sub(r"\n{4,}", "\n\n\n", kept), names


# --------------------------------------------------------------------------- scanning for leaks


def _body_key(body: list[ast.stmt]) -> tuple[str, int]:
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring is handout text, not solution code
    module = ast.Module(body=body, type_ignores=[])
    return ast.dump(module, annotate_fields=False, include_attributes=False), sum(1 for _ in ast.walk(module))


def code_bodies(source: str) -> dict[str, tuple[str, str]]:
    """Normalized body -> (qualified name, source text) for every function and class with a real body."""
    tree = ast.parse(source)
    lines = source.splitlines()
    out: dict[str, tuple[str, str]] = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                key, size = _body_key(child.body)
                if size >= 12:  # `pass`, `...`, `raise NotImplementedError(...)`, `super().__init__()` are not solutions
                    segment = "\n".join(lines[child.body[0].lineno - 1 : child.body[-1].end_lineno])
                    out.setdefault(key, (name, segment))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _py_sources(path: Path) -> list[str]:
    if path.suffix == ".py":
        return [path.read_text(errors="replace")]
    if path.suffix == ".ipynb":
        try:
            doc = json.loads(path.read_text())
            cells = [c for c in doc.get("cells", []) if c.get("cell_type") == "code"]
            sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
            return ["\n".join(line for line in s.splitlines() if not line.lstrip().startswith(("!", "%"))) for s in sources]
        except (ValueError, KeyError, AttributeError, TypeError):
            return []
    return []


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def scan_for_leaks(kit_dir: Path, solution_files: list[Path], public_files: list[Path]) -> tuple[list[str], str]:
    """Problems found (solution bodies, hidden checks, forbidden files), and a summary line."""
    forbidden: dict[str, tuple[str, str]] = {}
    for path in solution_files:
        for key, (name, text) in code_bodies(path.read_text()).items():
            forbidden.setdefault(key, (f"{path.name}:{name}", text))
    for path in public_files:  # given in the handout (e.g. a constructor the stub provides)
        try:
            for key in code_bodies(path.read_text()):
                forbidden.pop(key, None)
        except (SyntaxError, OSError):
            continue
    squashed = {key: _squash(text) for key, (_, text) in forbidden.items() if len(_squash(text)) >= 40}
    problems = []
    files = [p for p in kit_dir.rglob("*") if p.is_file() and ".egg-info" not in p.as_posix()]
    for path in files:
        rel = path.relative_to(kit_dir).as_posix()
        if rel.split("/")[0] in ("solutions", "tests", "benchmarks", "benchmark") or rel.endswith("_mistakes.py") \
                or re.search(r"(^|/)test_[^/]*_hidden\.py$", rel):
            problems.append(f"{rel} must not be in a kit")
        for source in _py_sources(path):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in hidden_checks_in(tree):
                problems.append(f"{rel}: hidden check {getattr(node, 'name', 'pytestmark')}")
            for key in code_bodies(source):
                if key in forbidden:
                    problems.append(f"{rel}: holds the body of {forbidden[key][0]}")
        if path.stat().st_size < 5 * 1024 * 1024 and squashed:
            try:
                text = _squash(path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError:
                continue  # binary (tensors, checkpoints): no source code in there
            for key, body in squashed.items():
                if body in text and not any(forbidden[key][0] in p and rel in p for p in problems):
                    problems.append(f"{rel}: holds the text of {forbidden[key][0]}")
    summary = (f"no solution function or class body ({len(forbidden)} from solutions/) and no hidden check "
               f"in any of the kit's {len(files)} files")  # fmt: skip
    return sorted(set(problems)), summary
