"""What a Gradescope bundle's ``run_autograder`` runs: grade one submission, write results.json.

``python -I -m grader.release.gradescope_autograder``, in the environment ``setup.sh``
made. ROOT is ``GRADESCOPE_ROOT`` (default ``/autograder``):

- reads ``ROOT/source/gradescope_bundle.json`` (exercises, grading seed, isolation) and
  ``ROOT/submission_metadata.json`` (Gradescope's; only the student's name and id are
  taken, as text, cleaned and cut short) before any submitted code runs;
- copies ``ROOT/submission`` into a private folder (no links, size caps:
  :func:`grader.batch.unpack.materialize`) and finds the modules there as ``grade batch``
  does (``softmax.py``, ``softmax/softmax.py``, ``softmax.ipynb``, renamed files);
- grades with the hidden checks, on the CPU, the bundle's seed, student code in jailed
  workers (the jail is required unless the bundle was built with ``--no-sandbox``);
- only then, with every worker stopped, writes ``ROOT/results/results.json`` from its own
  results (:func:`grader.batch.gradescope.document`), atomically, over whatever is there.

Whatever goes wrong, a results.json with score 0 and a one-line reason is written and
the exit code is 0 (``run_autograder`` covers this process dying outright).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import OFF, REQUIRED

ROOT_ENV = "GRADESCOPE_ROOT"
DEFAULT_ROOT = "/autograder"
CONFIG_NAME = "gradescope_bundle.json"  # grader.release.gradescope_bundle writes it
METADATA_BYTES = 1024 * 1024  # Gradescope's metadata is a few KB; never read more
SHOWN_CHARS = 80


class AutograderError(Exception):
    """This submission cannot be graded here; the message is the one line a student reads."""


@dataclass(frozen=True)
class BundleConfig:
    exercises: list[str]
    seed: int
    isolation: str


def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def read_config(root: Path) -> BundleConfig:
    path = root / "source" / CONFIG_NAME
    try:
        doc = json.loads(path.read_text())
        config = BundleConfig([str(n) for n in doc["exercises"]], int(doc["seed"]), str(doc["isolation"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AutograderError(f"the autograder bundle is broken ({path.name}: {type(exc).__name__}); tell your instructor") from None
    if config.isolation not in (REQUIRED, OFF):
        raise AutograderError(f"the autograder bundle is broken (isolation {config.isolation!r}); tell your instructor")
    return config


def _clean(value: object) -> str:
    """A value of the metadata as plain, short, single-line text (it is not ours to trust)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return ""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", " ", str(value))
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def student_line(root: Path) -> str:
    """"Graded for NAME (ID)" from ``submission_metadata.json``, or "" when it says nothing usable."""
    path = root / "submission_metadata.json"
    try:
        with open(path, "rb") as f:
            raw = f.read(METADATA_BYTES + 1)
        doc = json.loads(raw) if len(raw) <= METADATA_BYTES else None
    except (OSError, ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        return ""
    users = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(users, list) or not users or not isinstance(users[0], dict):
        return ""
    names = []
    for user in users[:5]:
        if not isinstance(user, dict):
            continue
        name, sid = _clean(user.get("name")), _clean(user.get("sid") or user.get("email"))
        if name or sid:
            names.append(f"{name} ({sid})" if name and sid else name or sid)
    return f"Graded for {', '.join(names)}." if names else ""


def failure_document(reason: str) -> dict:
    """Gradescope's results with score 0 and one line saying why nothing was graded."""
    line = " ".join(str(reason).split())[:500]
    return {
        "score": 0.0,
        "output": f"Your submission could not be graded: {line}",
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def write_results(root: Path, doc: dict) -> Path:
    """Write ``doc`` to ROOT/results/results.json atomically, replacing anything there
    (a file, or a link a submission put in its place)."""
    folder = root / "results"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, folder / "results.json")
    return folder / "results.json"


def grade_submission(root: Path) -> dict:
    """Grade ROOT/submission with the bundle's checks; Gradescope's results document."""
    from grader.api import grade_exercises, with_requirements
    from grader.batch.discover import folder_entry
    from grader.batch.gradescope import document
    from grader.batch.job import GRADED
    from grader.batch.records import WITHOUT_ISOLATION, ClassResults, StudentRecord
    from grader.batch.unpack import UnpackError, materialize, resolve
    from grader.registry import UnknownExercise, load_registry
    from grader.runner import GradeOptions

    config = read_config(root)
    who = student_line(root)
    if config.isolation == REQUIRED:
        from grader.jail import probe

        refused = probe()
        if refused is not None:
            raise AutograderError(
                f"this autograder must isolate submissions and this machine refuses it ({refused}); "
                "tell your instructor (a bundle built with `grade gradescope --no-sandbox` grades without isolation)"
            )
    registry = load_registry()
    try:
        specs = registry.select(config.exercises)
    except UnknownExercise as exc:
        raise AutograderError(f"the autograder bundle is broken ({exc}); tell your instructor") from None
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        source = root / "submission"
        if not source.is_dir() or source.is_symlink():
            raise AutograderError("no submission folder was found")
        # The batch's limits (files, bytes, folder depth) before anything is copied: a tree
        # nested 1,000 deep would otherwise end in a RecursionError blamed on the autograder.
        entry = folder_entry(source)
        if entry.kind == "invalid":
            raise AutograderError(entry.problem)
        try:
            folder = materialize({"kind": "dir", "paths": [str(source)]}, work / "submission")
        except UnpackError as exc:
            raise AutograderError(str(exc)) from None
        except OSError as exc:  # a name too long, a file that cannot be read: the submission's, not ours
            raise AutograderError(f"your submission cannot be copied: {exc.strerror or exc}") from None
        support = with_requirements(specs, registry)
        submission = resolve(folder, specs, support, "your submission", single_file=len(specs) == 1)
        options = GradeOptions(device="cpu", seed=config.seed, include_hidden=True, isolation=config.isolation)
        results = grade_exercises([s.name for s in specs], submission, options, registry)
    finally:
        from grader.zygote import shutdown_default

        shutdown_default()  # every worker gone before results.json is written
        shutil.rmtree(work, ignore_errors=True)
    record = StudentRecord("submission", GRADED, results={r.exercise: r for r in results},
                           isolated=config.isolation != OFF)  # fmt: skip
    doc = document(record, ClassResults(specs, {r.exercise: r.max_score for r in results}, [record]))
    head = [who] if who else []
    if config.isolation == OFF:
        head.append(f"Graded {WITHOUT_ISOLATION}: this autograder was built with --no-sandbox.")
    doc["output"] = "\n".join([*head, doc["output"]])
    doc["output_format"] = "text"
    return doc


def main() -> int:
    root = autograder_root()
    try:
        doc = grade_submission(root)
    except AutograderError as exc:
        doc = failure_document(str(exc))
    except Exception as exc:  # noqa: BLE001 - Gradescope must never be left with nothing
        doc = failure_document(f"the autograder failed ({type(exc).__name__}: {exc}); tell your instructor")
    path = write_results(root, doc)
    print(f"gradescope autograder: score {doc['score']:g}; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
