"""Recording the reference: grade the course live, with the kit's own check files, as the student.

The solutions, the stubs and each known mistake are graded through
:class:`grader.replay.Recorder`, so every call those submissions make to the reference is
recorded; :func:`record_reference` returns the recorder and each pass with its live results.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grader.spec import ExerciseSpec


@dataclass
class _Pass:
    label: str
    seed: int
    specs: list[ExerciseSpec]
    submission_dir: Path | None  # None: the stubs
    mistake: dict[str, str] = field(default_factory=dict)  # exercise -> mistake name


_WRAPPER = '''"""Known mistake {mistake!r} of the {module} reference, as a submission (written by grade release).

The reference and its mistakes are written into this file: a submission is graded from a
private copy of each submitted file alone (grader.submission), so there are no siblings to load."""

import sys as _sys
import types as _types


def _load(name, source):
    module = _types.ModuleType(name)
    module.__file__ = name + ".py"
    # Registered before it runs: a dataclass looks its module up in sys.modules.
    _sys.modules[name] = module
    exec(compile(source, name + ".py", "exec"), module.__dict__)
    return module


globals().update({{k: v for k, v in vars(_load("_reference_{module}", {reference!r})).items() if not k.startswith("__")}})
globals().update(_load("_mistakes_{module}", {mistakes!r}).MISTAKES[{mistake!r}])
'''


def _solutions_folder(included: list[ExerciseSpec], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for spec in included:
        shutil.copyfile(spec.solution, folder / f"{spec.module}.py")
    return folder


def _mistake_folder(k: int, names: dict[str, list[str]], included: list[ExerciseSpec], folder: Path) -> tuple[Path, dict[str, str]]:
    """A submission folder: mistake number ``k`` of each exercise that has one, solutions elsewhere."""
    _solutions_folder(included, folder)
    chosen = {}
    for spec in included:
        mistakes = names.get(spec.name) or []
        if k < len(mistakes) and spec.mistakes and Path(spec.mistakes).is_file():
            wrapper = _WRAPPER.format(mistake=mistakes[k], module=spec.module, reference=Path(spec.solution).read_text(),
                                      mistakes=Path(spec.mistakes).read_text())  # fmt: skip
            (folder / f"{spec.module}.py").write_text(wrapper)
            chosen[spec.name] = mistakes[k]
    return folder, chosen


def _grade_pass(p: _Pass, recorder, support: list[ExerciseSpec], device: str, include_hidden: bool = False):
    from grader.runner import GradeOptions, grade
    from grader.submission import from_stubs, locate

    submission = from_stubs(support) if p.submission_dir is None else locate(p.submission_dir, support)
    options = GradeOptions(
        device=device, seed=p.seed, include_hidden=include_hidden, reference_transport=recorder.transport_factory(seed=p.seed)
    )
    return {r.exercise: r for r in grade(p.specs, submission, options, support=support)}


def record_reference(kit_specs, support, seeds, device, work: Path, say, mistakes: int | None = None, include_hidden: bool = False):
    """Grade every pass live, recording the reference; the passes and their live results.

    ``include_hidden``: run the hidden checks too (a private bundle that ships them, see
    ``build_kit(private_bundle_seed=...)``); a student kit never does."""
    from grader.replay import Recorder

    recorder = Recorder(device=device)
    done: list[tuple[_Pass, dict]] = []
    solutions = _solutions_folder(support, work / "solutions")
    for seed in seeds:
        for p in (
            _Pass("the solutions", seed, kit_specs, solutions),
            _Pass("the stubs", seed, kit_specs, None),
        ):
            say(f"recording: grading {p.label} (seed {seed})")
            done.append((p, _grade_pass(p, recorder, support, device, include_hidden)))
        names = {n: list(r.mistakes or []) for n, r in recorder.recordings.items()}
        k = 0
        while mistakes is None or k < mistakes:
            folder, chosen = _mistake_folder(k, names, support, work / f"mistakes-{seed}-{k}")
            if not chosen:
                shutil.rmtree(folder, ignore_errors=True)
                break
            specs = [s for s in kit_specs if s.name in chosen]
            p = _Pass(f"known mistakes #{k + 1}", seed, specs, folder, chosen)
            say(f"recording: grading {p.label} (seed {seed}): " + "; ".join(f"{e}: {m}" for e, m in chosen.items()))
            done.append((p, _grade_pass(p, recorder, support, device, include_hidden)))
            k += 1
    return recorder, done
