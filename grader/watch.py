"""``grade exercise NAME --watch``: grade again whenever the student saves a graded file.

The watching process keeps what made the first run slow: torch imported, the zygote
warm, the registry loaded. A save therefore costs one forked worker and one pytest
session (``benchmarks/watch_benchmark.py`` measures it), not another interpreter start.

Folders are watched rather than files: editors save by writing a temporary file and
renaming it over the old one, which a watch on the old file's inode would miss. Changes
are filtered to the files graded (or, for a folder submission, to its ``.py`` and
``.ipynb`` files). File events come from ``watchfiles`` (the OS's own notification API
through Rust's ``notify``: inotify, FSEvents, ReadDirectoryChangesW; polling elsewhere).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterable

SOURCE_SUFFIXES = (".py", ".ipynb")


def watched_paths(submission: Path | None, stubs: Iterable[Path]) -> tuple[list[Path], set[Path], list[Path]]:
    """(folders to watch, files that count, folders whose .py/.ipynb files all count).

    ``submission`` as given to ``grade exercise`` (a file, a notebook or a folder); None for
    the student's own files in exercises/ (``stubs``: the graded exercise's and those it imports).
    """
    if submission is not None:
        path = Path(submission).absolute()
        if path.is_dir():
            return [path], set(), [path]
        return [path.parent], {path}, []
    files = {Path(p).absolute() for p in stubs}
    return sorted({p.parent for p in files}), files, []


def _filter(files: set[Path], trees: list[Path]) -> Callable[[object, str], bool]:
    def wanted(_change, path: str) -> bool:
        p = Path(path)
        if p in files:
            return True
        return p.suffix in SOURCE_SUFFIXES and any(t == p or t in p.parents for t in trees)

    return wanted


def watch(
    folders: list[Path],
    files: set[Path],
    trees: list[Path],
    grade_once: Callable[[], None],
    before_regrade: Callable[[], None] = lambda: None,
    stop: threading.Event | None = None,
) -> int:
    """Call ``grade_once`` now and after every batch of saves, until ``stop`` is set or Ctrl-C.

    Returns how many times it graded. ``before_regrade`` runs before each re-grade (clearing
    the screen). A folder that does not exist yet is watched from its nearest existing parent.
    """
    import watchfiles

    roots = []
    for folder in folders:
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        roots.append(folder)
    recursive = bool(trees) or any(f not in roots for f in folders)
    grade_once()
    runs = 1
    try:
        for _changes in watchfiles.watch(
            *roots,
            watch_filter=_filter(files, trees),
            recursive=recursive,
            stop_event=stop,
            debounce=1600,  # the most a burst of saves is gathered for ...
            step=30,  # ... once the files have been quiet this long (ms)
            rust_timeout=500,  # how often a stop is noticed
            yield_on_timeout=False,
            ignore_permission_denied=True,
            force_polling=os.environ.get("GRADER_WATCH_POLLING") == "1" or None,
        ):
            before_regrade()
            grade_once()
            runs += 1
    except KeyboardInterrupt:
        pass
    return runs


__all__ = ["watch", "watched_paths"]
