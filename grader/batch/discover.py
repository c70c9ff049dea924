"""Finds the students in a SUBMISSIONS folder: one entry per student, named by the student's id.

What counts as one student's submission (the name minus its suffix is the id):

- a folder ``alice/`` holding the exercise modules or notebooks (flat ``softmax.py`` or
  one folder per exercise ``softmax/softmax.py``, at any depth of single wrapping folders);
- a zip ``alice.zip`` of such a folder, also as an LMS exports it (one top folder inside);
- a single file ``alice.py`` / ``alice.ipynb``: the module of every graded exercise;
- files of a Canvas "Download submissions" export lying flat in SUBMISSIONS,
  ``doejane_12345_678901_softmax.py`` (``doejane_late_12345_...`` when late): grouped by the
  Canvas user id (``12345``, which is the id), the prefix stripped from each name.

Anything else (another file type, two entries with the same id, a folder too large) is
an entry with a ``problem``: the batch reports it for that student and goes on.

Each entry carries a content digest (file names and bytes), so a resumed batch can tell
a changed submission from one it already graded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.safe_text import printable
from grader.submission import MAX_FILE_BYTES

# Canvas: {sortable name}_{late_}{user id}_{attachment id}_{original file name}; the late
# mark is also read after the user id ({name}_{user id}_late_{id}_{file}), as some exports put it.
CANVAS_NAME = re.compile(
    r"^(?P<name>[^_]+)_(?P<late>late_|LATE_)?(?P<uid>\d+)_(?P<late2>late_|LATE_)?(?P<aid>\d+)_(?P<file>.+)$"
)
SUBMISSION_SUFFIXES = (".zip", ".py", ".ipynb")
# Operating-system litter that is never a student's work.
JUNK = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", "__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Caps:
    """How much one submission may hold: a student's work is a few small files."""

    max_bytes: int = 64 * 1024**2  # all files together (unpacked)
    max_files: int = 2000
    max_file_bytes: int = MAX_FILE_BYTES  # one .py/.ipynb/.zip


DEFAULT_CAPS = Caps()
# Folders inside one submission: a student's work is a few levels deep; os.walk recurses
# once per level, so a tree 1,000 deep would end the whole batch with a RecursionError.
MAX_FOLDER_DEPTH = 64


@dataclass(frozen=True)
class Entry:
    """One student's submission as found on disk."""

    id: str
    kind: str  # dir | zip | file | files | invalid
    paths: tuple[str, ...] = ()  # absolute paths (a folder, a zip, a file, or Canvas files)
    names: tuple[str, ...] = ()  # the name each path has inside the submission
    digest: str = ""
    problem: str = ""  # why it cannot be graded (kind "invalid")
    late: bool | None = None  # Canvas files: True when Canvas marked one late; None: not a Canvas export

    @property
    def label(self) -> str:
        """How reports name the entry: ``alice.zip``, ``alice/``, ``12345 (3 Canvas files)``."""
        if self.kind == "files":
            return f"{self.id} ({len(self.paths)} Canvas file{'s' * (len(self.paths) != 1)})"
        if not self.paths:
            return self.id
        base = os.path.basename(self.paths[0])
        return base + "/" if self.kind == "dir" else base

    def source(self) -> dict:
        """The JSON-able description a grading job unpacks (see grader.batch.unpack)."""
        return {"kind": self.kind, "paths": list(self.paths), "names": list(self.names)}


@dataclass
class Discovery:
    entries: list[Entry] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [e.id for e in self.entries]


def is_junk(name: str) -> bool:
    return name in JUNK or name.startswith(".") or name.startswith("~$")


def discover(submissions: Path, caps: Caps = DEFAULT_CAPS) -> Discovery:
    """One Entry per student in ``submissions``, sorted by id."""
    found: dict[str, list[Entry]] = {}
    canvas: dict[str, list[tuple[str, str]]] = {}  # user id -> [(path, original name)]
    canvas_late: set[str] = set()  # user ids with a file Canvas marked late (grader.batch.late)
    for child in sorted(submissions.iterdir(), key=lambda p: p.name):
        if is_junk(child.name):
            continue
        mode = child.lstat().st_mode
        if stat.S_ISLNK(mode):
            entry = Entry(_stem(child.name), "invalid", (str(child),), problem=f"{child.name} is a symbolic link, not a submission")
        elif stat.S_ISDIR(mode):
            entry = _folder_entry(child, caps)
        elif stat.S_ISREG(mode):
            match = CANVAS_NAME.match(child.name)
            if match:
                canvas.setdefault(match["uid"], []).append((str(child), match["file"]))
                if match["late"] or match["late2"]:
                    canvas_late.add(match["uid"])
                continue
            entry = _file_entry(child, caps)
        else:
            entry = Entry(child.name, "invalid", (str(child),), problem=f"{child.name} is not a file or a folder")
        # The id is the name as text every output can hold: a name that is not UTF-8, or
        # holds a terminal escape, is graded under its escaped form (b\xffad, ev\x1bil).
        entry = dataclasses.replace(entry, id=printable(entry.id))
        found.setdefault(entry.id, []).append(entry)
    for uid, files in canvas.items():
        found.setdefault(uid, []).append(dataclasses.replace(_canvas_entry(uid, files, caps), late=uid in canvas_late))

    entries = []
    for sid in sorted(found):
        group = found[sid]
        if len(group) == 1:
            entries.append(group[0])
        else:
            labels = ", ".join(e.label for e in group)
            entries.append(Entry(sid, "invalid", problem=f"several submissions for this student ({labels}): keep one"))
    return Discovery(entries)


def _stem(name: str) -> str:
    for suffix in SUBMISSION_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def _file_entry(path: Path, caps: Caps) -> Entry:
    sid = _stem(path.name)
    suffix = path.suffix.lower()
    if suffix not in SUBMISSION_SUFFIXES:
        return Entry(sid, "invalid", (str(path),), problem=f"{path.name}: a submission is a folder, a .zip, a .py or a .ipynb file")
    size = path.stat().st_size
    if size > caps.max_file_bytes:
        return Entry(sid, "invalid", (str(path),), problem=f"{path.name} is {size / 1024**2:.0f} MB: more than the {caps.max_file_bytes // 1024**2} MB a submission may hold")
    kind = "zip" if suffix == ".zip" else "file"
    digest = _digest_files([(path.name, path)])
    return Entry(sid, kind, (str(path),), (path.name,), digest)


def _canvas_entry(uid: str, files: list[tuple[str, str]], caps: Caps) -> Entry:
    files = sorted(files, key=lambda f: (f[1], f[0]))
    total = 0
    for path, _ in files:
        total += os.path.getsize(path)
    if total > caps.max_bytes:
        return Entry(uid, "invalid", tuple(p for p, _ in files), problem=f"the Canvas files of {uid} hold more than {caps.max_bytes // 1024**2} MB")
    digest = _digest_files([(name, Path(path)) for path, name in files])
    return Entry(uid, "files", tuple(p for p, _ in files), tuple(n for _, n in files), digest)


def folder_entry(folder: Path, caps: Caps = DEFAULT_CAPS) -> Entry:
    """``folder`` as one student's entry: kind "invalid" with the problem when it holds too
    many files or bytes or is nested too deep (the Gradescope autograder checks its folder so)."""
    return _folder_entry(folder, caps)


def _folder_entry(folder: Path, caps: Caps) -> Entry:
    members: list[tuple[str, Path]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_junk(d))
        if dirnames and len(Path(dirpath).relative_to(folder).parts) >= MAX_FOLDER_DEPTH:
            return Entry(folder.name, "invalid", (str(folder),),
                         problem=f"{folder.name}/ has folders nested more than {MAX_FOLDER_DEPTH} deep")  # fmt: skip
        for name in sorted(filenames):
            if is_junk(name):
                continue
            path = Path(dirpath) / name
            if not path.is_file() or path.is_symlink():
                continue  # links could point anywhere: a submission is its own files
            members.append((path.relative_to(folder).as_posix(), path))
            total += path.stat().st_size
            if len(members) > caps.max_files or total > caps.max_bytes:
                return Entry(
                    folder.name, "invalid", (str(folder),),
                    problem=f"{folder.name}/ holds more than {caps.max_files} files or {caps.max_bytes // 1024**2} MB",
                )  # fmt: skip
    return Entry(folder.name, "dir", (str(folder),), (folder.name,), _digest_files(members))


def _digest_files(members: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for name, path in members:
        # Length-prefixed, so no two different submissions hash the same stream.
        raw = os.fsencode(name)  # the name's own bytes, UTF-8 or not
        h.update(b"%d:%s:%d:" % (len(raw), raw, path.stat().st_size))
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()
