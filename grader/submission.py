"""Where a submission's modules are: a .py file, a folder, or (``grader.notebooks``) a notebook.

A submission is resolved into a map from course module name (``attention``) to the
Python file the worker will load. Folders may be flat (``attention.py``) or one folder per
exercise (``attention/attention.py``); a notebook is turned into a module first.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.safe_text import printable
from grader.spec import ExerciseSpec


class SubmissionError(ValueError):
    """The submission path itself is unusable (missing, wrong kind of file)."""


@dataclass
class Submission:
    label: str  # what reports call it: a path, "the stubs", "the solutions"
    files: dict[str, Path] = field(default_factory=dict)  # module -> .py to load
    problems: dict[str, str] = field(default_factory=dict)  # module -> why it has no file
    scratch: list[Path] = field(default_factory=list)  # the private copies (and modules made of notebooks)
    sources: dict[str, Path] = field(default_factory=dict)  # module -> the file submitted (a notebook)
    # module -> a note on how its file was read, graded all the same (NotebookModule.note)
    notes: dict[str, str] = field(default_factory=dict)

    def submitted_name(self, module: str) -> str:
        """How messages name the student's file for ``module``: softmax.py, softmax.ipynb."""
        source = self.sources.get(module) or self.files.get(module)
        return source.name if source is not None else f"{module}.py"

    def cleanup(self) -> None:
        """Remove the private copies of the submitted files (``grader.runner.grade`` calls this)."""
        for folder in self.scratch:
            shutil.rmtree(folder, ignore_errors=True)
        self.scratch.clear()


def _notebook_to_module(path: Path, module: str, workdir: Path) -> tuple[Path, str]:
    """The module file made of notebook ``path``, and its note ("" for none)."""
    from grader.notebooks import notebook_module

    out = workdir / f"{module}.py"
    made = notebook_module(path)  # NotebookError goes to the caller
    out.write_text(made.source)
    return out, made.note


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="grader-sub-"))


def from_stubs(specs: list[ExerciseSpec]) -> Submission:
    return Submission("the exercise stubs", {s.module: s.stub for s in specs})


def from_solutions(specs: list[ExerciseSpec]) -> Submission:
    sub = Submission("the reference solutions")
    for s in specs:
        if s.has_solution:
            sub.files[s.module] = s.solution
        else:
            sub.problems[s.module] = f"no reference solution for {s.name} is installed (a student kit?)"
    return sub


def locate(path: Path, specs: list[ExerciseSpec]) -> Submission:
    """Resolve PATH for the given exercises; raise SubmissionError if PATH is unusable."""
    if not path.exists():
        raise SubmissionError(f"submission not found: {path}")
    sub = Submission(str(path))
    if path.is_file():
        if path.suffix not in (".py", ".ipynb"):
            raise SubmissionError(f"{path}: a submission is a .py file, a .ipynb notebook or a folder")
        if len(specs) != 1:
            raise SubmissionError(f"{path} is a single file; give a folder to grade several exercises")
        spec = specs[0]
        _add(sub, spec.module, path)
        return sub
    for spec in specs:
        for candidate in candidate_files(path, spec):
            if candidate.is_file():
                _add(sub, spec.module, candidate, root=path)
                break
        else:
            sub.problems.setdefault(spec.module, f"no {spec.module}.py or {spec.module}.ipynb in {path}")
    return sub


def module_names(spec: ExerciseSpec) -> list[str]:
    """The file stems a submission may use for ``spec``'s module: the module, then the exercise's name."""
    return [spec.module] + ([spec.name] if spec.name != spec.module else [])


def candidate_files(root: Path, spec: ExerciseSpec) -> list[Path]:
    """Where a submission folder holds ``spec``'s module, in order of preference: a .py before
    a notebook, ``<module>.py`` at the top or in a folder named after the exercise."""
    names = module_names(spec)
    out = []
    for suffix in (".py", ".ipynb"):
        for name in names:
            out += [root / f"{name}{suffix}", root / spec.name / f"{spec.module}{suffix}"]
    return out


# A submitted file (.py, .ipynb; in a batch, .zip too) larger than this is not a student's work.
MAX_FILE_BYTES = 32 * 1024**2
# The most code one submitted module may hold (a .py, or a notebook's code cells): a
# student's is a few kB. The trusted side parses it (the handout's rules, a notebook's
# cells), which costs hundreds of bytes of memory and microseconds per byte: 4 MiB of
# "a=1" lines took 35 s and 2.6 GB.
MAX_SOURCE_BYTES = 256 * 1024


def _add(sub: Submission, module: str, path: Path, root: Path | None = None) -> None:
    """Take ``path`` as ``module``'s file; ``root``: the submission folder it was found in.

    The file is read once, into a private copy that is what gets graded: opened without
    following a link anywhere below ``root`` (a link could name any file of the grading
    machine), so swapping a link in later changes nothing, and no file of the student's
    is ever touched (a root grader's jail reads the copy, which is made readable to it)."""
    sub.sources[module] = path
    try:
        data = _read_no_links(path, root)
    except _Refused as exc:
        sub.problems[module] = f"{path.name} {exc}"
        return
    if path.suffix == ".py" and len(data) > MAX_SOURCE_BYTES:
        sub.problems[module] = f"{path.name} has {too_much_code(len(data))}"
        return
    scratch = _scratch()
    copy = scratch / path.name
    copy.write_bytes(data)
    os.chmod(copy, 0o644)
    if path.suffix == ".ipynb":
        from grader.notebooks import NotebookError

        try:
            copy, note = _notebook_to_module(copy, module, scratch)
        except NotebookError as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            sub.problems[module] = printable(str(exc).replace(str(scratch / path.name), str(path)))  # quotes its metadata
            return
        os.chmod(copy, 0o644)
        if note:
            sub.notes[module] = note
    sub.scratch.append(scratch)
    sub.files[module] = copy


def too_much_code(size: int) -> str:
    """Why a module of ``size`` bytes (or characters) of code is not graded ("X has ...")."""
    return (f"{size / 1024:,.0f} kB of code, more than the {MAX_SOURCE_BYTES // 1024} kB a submitted module may "
            "hold (generated or pasted data? load it from a file instead)")


def _open_in(folder_fd: int, name: str, flags: int) -> int:
    """Open ``name`` in the folder ``folder_fd``, then close that folder: one step down. When
    the open fails, the folder stays open (its caller closes it)."""
    inner = os.open(name, flags, dir_fd=folder_fd)
    os.close(folder_fd)
    return inner


class _Refused(Exception):
    """Why a submitted file is not read (said after its name)."""


def _read_no_links(path: Path, root: Path | None) -> bytes:
    """``path``'s bytes, opened one component at a time below ``root`` (or its own folder)
    with O_NOFOLLOW: a link anywhere on the way is refused, whenever it was put there."""
    base = root if root is not None else path.parent
    parts = path.relative_to(base).parts
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = None
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        for part in parts[:-1]:
            fd = _open_in(fd, part, flags | os.O_DIRECTORY)
        fd = _open_in(fd, parts[-1], flags | os.O_NONBLOCK)  # a FIFO must not block us
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Refused("is a symbolic link (or inside one): submit the file itself") from None
        raise _Refused(f"cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise _Refused("is not a regular file")
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(f"is larger than {MAX_FILE_BYTES // 2**20} MiB: not a submission")
    return data
