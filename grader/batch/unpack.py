"""Turns one student's entry into a folder of files, and finds the exercise modules in it.

This runs in the trusted per-submission process on untrusted *data* (no submitted code
runs here): zips are read member by member, refusing absolute paths and ``..``, links
and encrypted members, and counting the bytes actually written so a zip bomb stops at
the cap however its headers lie. Every problem is one line, raised as UnpackError.

Where a module is found, in this order (the first that matches wins):

1. ``softmax.py`` / ``softmax.ipynb`` or ``softmax/softmax.py`` at the top of the
   submission, after unwrapping single folders (``alice.zip`` holding ``alice/...``);
2. the same names anywhere deeper, the shallowest one;
3. a file whose name *ends* with the module name, as LMS exports rename files:
   ``doe_12345_678_softmax.py``, ``softmax-1.py`` (a Canvas resubmission), ``softmax (2).py``.

A single-file submission (``alice.py``) is the module of every exercise graded.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from grader.batch.discover import DEFAULT_CAPS, MAX_FOLDER_DEPTH, Caps, is_junk
from grader.spec import ExerciseSpec
from grader.submission import Submission, candidate_files, module_names

MAX_DEPTH = 6


class UnpackError(Exception):
    """The submission cannot be read at all (not a zip, unsafe, too large)."""


# ---------------------------------------------------------------------- materialising


def materialize(source: dict, dest: Path, caps: Caps = DEFAULT_CAPS) -> Path:
    """Copy or extract ``source`` (see Entry.source) into the empty folder ``dest``."""
    kind = source.get("kind")
    paths = [Path(p) for p in source.get("paths", [])]
    names = list(source.get("names", []))
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "invalid":
        raise UnpackError(source.get("problem") or "not a submission")
    if kind == "dir":
        _copy_tree(paths[0], dest, caps)
    elif kind == "zip":
        safe_extract(paths[0], dest, caps, label=names[0] if names else paths[0].name)
    elif kind == "file":
        _copy_file(paths[0], dest / _safe_name(names[0] if names else paths[0].name), caps)
    elif kind == "files":
        for path, name in zip(paths, names):
            name = _safe_name(name)
            if name.lower().endswith(".zip"):
                safe_extract(path, _unique(dest / Path(name).stem), caps, label=name)
            else:
                _copy_file(path, _unique(dest / name), caps)
    else:
        raise UnpackError(f"unknown kind of submission {kind!r}")
    return dest


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/"))
    if base in ("", ".", ".."):
        raise UnpackError(f"unusable file name {name!r}")
    return base


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(1, 1000):
        candidate = path.with_name(f"{path.stem}~{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise UnpackError(f"too many files named {path.name}")


def _copy_file(src: Path, dst: Path, caps: Caps) -> None:
    if src.stat().st_size > caps.max_file_bytes:
        raise UnpackError(f"{src.name} is larger than {caps.max_file_bytes // 1024**2} MB")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _copy_tree(src: Path, dest: Path, caps: Caps) -> None:
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        dirnames[:] = [d for d in dirnames if not is_junk(d)]
        rel = Path(dirpath).relative_to(src)
        for name in filenames:
            path = Path(dirpath) / name
            if is_junk(name) or path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            files += 1
            if files > caps.max_files or total > caps.max_bytes:
                raise UnpackError(f"{src.name}/ holds more than {caps.max_files} files or {caps.max_bytes // 1024**2} MB")
            target = dest / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def safe_extract(path: Path, dest: Path, caps: Caps = DEFAULT_CAPS, label: str = "") -> None:
    """Extract the zip at ``path`` into ``dest``, or raise UnpackError saying why not."""
    label = label or path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UnpackError(f"{label} is not a readable zip file") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > caps.max_files:
            raise UnpackError(f"{label} holds {len(infos)} entries (at most {caps.max_files})")
        declared = sum(i.file_size for i in infos)
        if declared > caps.max_bytes:
            raise UnpackError(
                f"{label} would unpack to {declared / 1024**2:.0f} MB, more than {caps.max_bytes // 1024**2} MB (a zip bomb?)"
            )
        written = 0
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for info in infos:
            parts = _member_parts(info.filename, label)
            if not parts or any(is_junk(p) for p in parts):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                continue  # a link could point anywhere outside the submission
            if info.flag_bits & 0x1:
                raise UnpackError(f"{label} is encrypted ({info.filename})")
            target = root.joinpath(*parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        if written > caps.max_bytes:
                            raise UnpackError(f"{label} unpacks to more than {caps.max_bytes // 1024**2} MB (a zip bomb?)")
                        dst.write(chunk)
            except UnpackError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
                raise UnpackError(f"{label}: cannot extract {info.filename} ({type(exc).__name__}: {exc})") from None


def _member_parts(name: str, label: str) -> tuple[str, ...]:
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (parts and (":" in parts[0])) or any(p == ".." for p in parts):
        raise UnpackError(f"{label} contains an unsafe path {name!r} (absolute or with '..')")
    kept = tuple(p for p in parts if p not in ("", "."))
    if len(kept) > MAX_FOLDER_DEPTH:  # Path.mkdir(parents=True) recurses per level
        raise UnpackError(f"{label} has folders nested more than {MAX_FOLDER_DEPTH} deep")
    return kept


# ---------------------------------------------------------------------- finding modules


def unwrap(root: Path) -> Path:
    """Descend through folders that are the only thing in their parent (LMS wrapping)."""
    for _ in range(MAX_DEPTH):
        children = [c for c in root.iterdir() if not is_junk(c.name)]
        if len(children) == 1 and children[0].is_dir():
            root = children[0]
        else:
            break
    return root


def _walk(root: Path):
    """(depth, relative path, path) of each file under root, shallow first, in name order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not is_junk(d))
        rel = Path(dirpath).relative_to(root)
        depth = len(rel.parts)
        if depth > MAX_DEPTH:
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            if not is_junk(name):
                out.append((depth, (rel / name).as_posix(), Path(dirpath) / name))
    return sorted(out, key=lambda t: (t[0], t[1]))


def find_module(root: Path, spec: ExerciseSpec) -> tuple[Path | None, str]:
    """The file holding ``spec``'s module under ``root``, or (None, why not)."""
    for candidate in candidate_files(unwrap(root), spec):
        if candidate.is_file():
            return candidate, ""
    names = module_names(spec)
    files = _walk(root)
    exact = {f"{n}{s}" for n in names for s in (".py", ".ipynb")}
    hits = [t for t in files if t[2].name in exact]
    if hits:
        return _pick(hits, spec)
    pattern = re.compile(
        r"(?:^|[_\-\s.])(?:" + "|".join(re.escape(n) for n in names) + r")(?:[-_ ]?\(?\d+\)?)?$", re.IGNORECASE
    )
    fuzzy = [t for t in files if t[2].suffix in (".py", ".ipynb") and pattern.search(t[2].stem)]
    if fuzzy:
        return _pick(fuzzy, spec)
    return None, ""


def _pick(hits, spec: ExerciseSpec) -> tuple[Path | None, str]:
    depth = hits[0][0]
    level = [t for t in hits if t[0] == depth]
    py = [t for t in level if t[2].suffix == ".py"]
    level = py or level
    if len(level) == 1:
        return level[0][2], ""
    listed = ", ".join(t[1] for t in level[:5])
    return None, f"several files could be {spec.module}.py ({listed}): keep one"


def resolve(
    root: Path,
    specs: list[ExerciseSpec],
    support: list[ExerciseSpec],
    label: str,
    single_file: bool = False,
) -> Submission:
    """The Submission for ``specs`` found under ``root``.

    ``support`` are further exercises whose modules the graded ones import; when the
    submission lacks one, the handout stub stands in (as in ``grade exercise``).
    """
    from grader.submission import SubmissionError, locate

    sub = Submission(label)
    graded = {s.module for s in specs}
    single = None
    if single_file:
        files = [t[2] for t in _walk(root) if t[2].suffix in (".py", ".ipynb")]
        single = files[0] if len(files) == 1 else None
    for spec in support:
        if spec.module in sub.files or spec.module in sub.problems:
            continue
        if single is not None:
            path, why = single, ""
        else:
            path, why = find_module(root, spec)
        if path is None:
            if spec.module not in graded:
                sub.files[spec.module] = spec.stub
            else:
                sub.problems[spec.module] = why or f"no {spec.module}.py or {spec.module}.ipynb in {label}"
            continue
        try:
            found = locate(path, [spec])
        except SubmissionError as exc:
            sub.problems[spec.module] = _relative(str(exc), root)
            continue
        except Exception as exc:  # e.g. notebook support not installed
            sub.problems[spec.module] = f"cannot read {path.name}: {type(exc).__name__}: {exc}"
            continue
        sub.files.update(found.files)
        sub.notes.update(found.notes)
        for module, why in found.problems.items():
            sub.problems[module] = _relative(why, root)
    return sub


def _relative(text: str, root: Path) -> str:
    """Paths in messages relative to the submission: never the scratch folder's name."""
    return text.replace(str(root) + "/", "").replace(str(root), ".")
