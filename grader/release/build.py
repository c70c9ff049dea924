"""The library entry point: :func:`build_kit` writes, records and verifies a student kit."""

from __future__ import annotations

import dataclasses
import fnmatch
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

from grader.release.course import COURSE_ROOT, DEFAULT_SEED, ReleaseError
from grader.release.kit import (
    COPY_IGNORE,
    check_target,
    choose_exercises,
    clean_kit,
    copy_exercise,
    kit_spec,
    kit_pyproject,
    kit_readme,
)
from grader.release.record import record_reference
from grader.release.report import KitReport
from grader.release.scan import scan_for_leaks
from grader.release.verify import verify_in_venv
from grader.spec import ExerciseSpec


def _refuse_grading_seeds(seeds: list[int]) -> None:
    """A kit records only seeds grading never derives: a recorded seed's replies are public."""
    from grader.secret import KIT_SEEDS, recordable

    for seed in seeds:
        if not recordable(seed):
            raise ReleaseError(
                f"--seed {seed} cannot be recorded: a kit records seeds from 0 to {KIT_SEEDS - 1} only "
                "(grading derives its seeds from the secret outside that range; see grader/secret.py)"
            )


def leaks(folder: Path, shipped_hidden: Iterable[str] = ()) -> tuple[list[str], str]:
    """:func:`scan_for_leaks` of ``folder`` against the course's solutions (problems, summary).

    ``shipped_hidden``: the course's hidden-check files (paths relative to the course, e.g.
    ``solutions/hidden/test_<name>_hidden.py``) a private bundle ships on purpose
    (:func:`build_kit` with ``private_bundle_seed``): their copies, at that relative path
    anywhere in ``folder``, may be there and hold hidden checks, and their own code is
    not a leak; solution code anywhere, in them too, still is."""
    shipped = {str(rel) for rel in shipped_hidden}
    public = [p for p in (COURSE_ROOT / "exercises").rglob("*.py")] + list((COURSE_ROOT / "grader").rglob("*.py"))
    solution_files = sorted(p for p in (COURSE_ROOT / "solutions").rglob("*.py")
                            if p.relative_to(COURSE_ROOT).as_posix() not in shipped)  # fmt: skip
    problems, summary = scan_for_leaks(Path(folder), solution_files, public)

    def allowed(problem: str) -> bool:
        for rel in shipped:
            for prefix in ("", "*/"):
                for tail in (" must not be in a kit", ": hidden check "):
                    if fnmatch.fnmatchcase(problem.split(tail)[0], prefix + rel) and tail in problem:
                        return True
        return False

    return [p for p in problems if not allowed(p)], summary


def build_kit(
    kit_dir: Path,
    exercises: list[str] | None = None,
    force: bool = False,
    verify: bool = True,
    seeds: Iterable[int] = (DEFAULT_SEED,),
    device: str = "cpu",
    venv_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    mistakes: int | None = None,
    private_bundle_seed: int | None = None,
) -> KitReport:
    """Write a student kit to ``kit_dir``, record the reference into it, and verify it.

    ``venv_dir``: where to build the verification venv (kept, for callers that want to
    use it); by default a temporary folder, removed afterwards. ``mistakes``: grade (record
    and verify) only the first N known mistakes of each exercise as submissions; None: all.

    ``private_bundle_seed``: for a bundle no student ever sees (the Gradescope autograder,
    :mod:`grader.release.gradescope_bundle`), not a student kit: record only this seed, a
    grading seed outside the range kits record (so no student kit holds its replies), ship
    the hidden checks (``solutions/hidden/test_<name>_hidden.py``, no solution code) and
    record them too. Its own autograder verifies such a bundle, so ``verify`` is ignored.
    """
    start = time.monotonic()
    say = (lambda line: progress(f"[{time.monotonic() - start:5.1f} s] {line}")) if progress else (lambda _: None)
    kit_dir = Path(kit_dir).absolute()
    private = private_bundle_seed is not None
    seeds = _seeds_to_record(seeds, private_bundle_seed)
    verify = verify and not private  # a private bundle's own autograder verifies it
    if not (COURSE_ROOT / "solutions").is_dir() or not (COURSE_ROOT / "pyproject.toml").is_file():
        raise ReleaseError("grade release needs the course repository (with solutions/); this looks like a student kit")
    _, included = choose_exercises(exercises)
    check_target(kit_dir, force)
    kit_dir.mkdir(parents=True, exist_ok=True)
    report = KitReport(kit_dir, [s.name for s in included], seeds, verify=verify)

    # 1. what students get
    say(f"writing the kit to {kit_dir}")
    kit_specs, shipped_hidden = _write_kit(kit_dir, included, seeds, report, ship_hidden=private)

    # 2. the recorded reference, from live grading of the kit's own checks
    work = Path(tempfile.mkdtemp(prefix="grade-release-"))
    try:
        recorder, passes = record_reference(kit_specs, included, seeds, device, work, say, mistakes, include_hidden=private)
        _save_recordings(recorder, kit_specs, report)
        _check_live_grading(passes, seeds[0], report)

        # 3. verification
        problems, summary = leaks(kit_dir, shipped_hidden)
        report.problems += problems
        if not problems:
            report.verified.append(summary)
        if verify:
            venv = Path(venv_dir).absolute() if venv_dir else work / "venv"
            _verify_kit(kit_dir, venv, passes, device, report, say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        clean_kit(kit_dir)
    report.files = sum(1 for p in kit_dir.rglob("*") if p.is_file() and ".egg-info" not in p.as_posix())
    report.seconds = time.monotonic() - start
    return report


def _seeds_to_record(seeds: Iterable[int], private_bundle_seed: int | None) -> list[int]:
    """The seeds a kit records: those asked for plus the default one (a kit's ``grade`` replays
    seed 0), each one a seed grading never derives; a private bundle records only its grading seed."""
    if private_bundle_seed is not None:
        from grader.secret import recordable

        if recordable(int(private_bundle_seed)):
            raise ReleaseError(f"a private bundle records a grading seed, never {private_bundle_seed}, which student kits may record")
        return [int(private_bundle_seed)]
    chosen = sorted(set(int(s) for s in seeds)) or [DEFAULT_SEED]
    _refuse_grading_seeds(chosen)
    return chosen if DEFAULT_SEED in chosen else [DEFAULT_SEED] + chosen


def _write_kit(kit_dir: Path, included: list[ExerciseSpec], seeds: list[int], report: KitReport,
               ship_hidden: bool) -> tuple[list[ExerciseSpec], list[str]]:
    """Step 1: copy what students get and write pyproject.toml, README and notebooks.

    The specs as the kit sees them, and the hidden-check files shipped (course-relative
    paths; only for a private bundle, ``ship_hidden``)."""
    # pyproject.toml first: it marks the folder as a kit for --force
    (kit_dir / "pyproject.toml").write_text(kit_pyproject(included))
    shutil.copytree(COURSE_ROOT / "grader", kit_dir / "grader", ignore=COPY_IGNORE)
    (kit_dir / "exercises").mkdir()
    shutil.copyfile(COURSE_ROOT / "exercises" / "__init__.py", kit_dir / "exercises" / "__init__.py")
    for spec in included:
        copy_exercise(spec, kit_dir / "exercises", report)
    if (COURSE_ROOT / "data").is_dir():
        shutil.copytree(COURSE_ROOT / "data", kit_dir / "data", ignore=COPY_IGNORE)
    (kit_dir / "README.md").write_text(kit_readme(included, seeds))
    kit_specs = [kit_spec(s, kit_dir) for s in included]
    shipped_hidden: list[str] = []
    if ship_hidden:
        kit_specs = [_ship_hidden_checks(spec, kit, kit_dir, shipped_hidden) for spec, kit in zip(included, kit_specs)]
    from grader.notebooks import write_notebook

    for spec in kit_specs:
        report.notebooks.append(write_notebook(spec, kit_dir / "notebooks" / f"{spec.name}.ipynb"))
    return kit_specs, shipped_hidden


def _ship_hidden_checks(spec: ExerciseSpec, kit: ExerciseSpec, kit_dir: Path, shipped: list[str]) -> ExerciseSpec:
    """Copy ``spec``'s hidden-check files into the kit at their course-relative paths (a private
    bundle), noting each in ``shipped``; ``kit`` pointing at the copies."""
    copies = []
    for path in spec.hidden_checks:
        if Path(path).is_file():
            rel = Path(path).resolve().relative_to(COURSE_ROOT)
            (kit_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, kit_dir / rel)
            copies.append(kit_dir / rel)
            shipped.append(rel.as_posix())
    return dataclasses.replace(kit, hidden_checks=tuple(copies))


def _save_recordings(recorder, kit_specs: list[ExerciseSpec], report: KitReport) -> None:
    """Step 2's output: one recording per exercise beside its stub, counted in the report."""
    from grader.replay import recording_paths

    for spec in kit_specs:
        recording = recorder.recordings.get(spec.name)
        if recording is None:
            continue
        index, blobs = recording_paths(spec)
        recording.save(index, blobs)
        report.recorded_calls[spec.name] = len(recording.replies)
        report.recording_bytes += index.stat().st_size + blobs.stat().st_size
        if recording.conflicts:
            report.problems.append(
                f"{spec.name}: the reference gave different answers to the same request in different passes "
                f"({len(recording.conflicts)} requests): seed the checks' randomness"
            )


def _check_live_grading(passes, seed: int, report: KitReport) -> None:
    """Live grading at ``seed`` (0 in a kit; a private bundle's only seed): each solution earns
    full marks and each stub nothing, or the exercise is reported unfinished."""
    for p, live in passes:
        if p.seed != seed:
            continue
        for name, result in live.items():
            if p.label == "the solutions" and result.score != result.max_score:
                failing = [c.name for c in result.checks if c.status != "passed"]
                report.problems.append(f"live grading: the solution of {name} fails {', '.join(failing)}")
                report.unfinished.append(name)
            if p.label == "the stubs" and result.score != 0:
                report.problems.append(f"live grading: the stub of {name} scores {result.score:g}, not 0")
                report.unfinished.append(name)


def _verify_kit(kit_dir: Path, venv: Path, passes, device: str, report: KitReport, say) -> None:
    """Step 3: grade in a fresh venv holding only the kit, and compare with live grading."""
    if venv.exists() and any(venv.iterdir()):
        shutil.rmtree(venv)
    try:
        verify_in_venv(kit_dir, venv, passes, device, report, say)
    except ReleaseError as exc:
        report.problems.append(str(exc))
    for check in report.passes:
        report.problems += check.mismatches
        if not check.mismatches:
            scores = ", ".join(f"{n} {s:g}/{m:g}" for n, (s, m) in check.scores.items())
            report.verified.append(f"{check.label}: {scores}; {check.checks} checks, same verdicts and messages as live grading")
