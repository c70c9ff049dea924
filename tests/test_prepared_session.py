"""A pytest session collected once and run in forked processes (grader.session), as a batch
slot does: the same verdicts as a fresh pytest.main, student after student."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import grade_file, submission_file
from grader.registry import load_registry
from grader.runner import GradeOptions, check_files, pytest_args
from grader.session import PreparedSessions

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
CLASS = {
    "softmax": ["correct", "constant.py", "detached.py", "float32_always.py", "correct"],
    "attention": ["correct", "inverted_mask.py", "qkv_swapped.py", "correct"],
    "decoder_block": ["not_causal.py", "correct"],
}


def _attempt(exercise: str, name: str) -> Path:
    return SOLUTIONS / f"{exercise}.py" if name == "correct" else submission_file(exercise, name)


def _prepared(exercise: str) -> tuple[PreparedSessions, tuple]:
    """The sessions object, with ``exercise``'s session collected here, before any fork."""
    sessions = PreparedSessions(pytest_args)
    files, without_hidden = check_files([load_registry().get(exercise)], GradeOptions(seed=11))
    assert sessions.get(files, without_hidden) is not None, "pytest could not be prepared"
    return sessions, (files, without_hidden)


def _in_fork(grade) -> dict:
    """Run ``grade()`` (returning JSON-able data) in a forked child, as a slot's job runs."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "w") as out:
                json.dump(grade(), out)
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the forked grading failed"
    return json.loads(data)


@pytest.mark.parametrize("exercise", sorted(CLASS))
def test_prepared_session_gives_pytest_mains_verdicts(exercise):
    sessions, key = _prepared(exercise)
    for name in CLASS[exercise]:
        path = _attempt(exercise, name)

        def prepared_run():
            result = grade_file(exercise, path, seed=11, prepared=sessions)
            return {"checks": [c.to_json() for c in result.checks], "used": sessions.get(*key)._used}

        got = _in_fork(prepared_run)
        assert got["used"], "the prepared session did not run"
        fresh = [c.to_json() for c in grade_file(exercise, path, seed=11).checks]
        for check in (*got["checks"], *fresh):
            check.pop("seconds", None)
        assert got["checks"] == fresh, name
    assert not sessions.get(*key)._used, "the parent's session must stay unused"


def test_a_session_runs_once_then_falls_back_to_pytest_main():
    sessions, key = _prepared("softmax")
    path = _attempt("softmax", "correct")
    first = grade_file("softmax", path, seed=11, prepared=sessions)
    assert sessions.get(*key)._used
    second = grade_file("softmax", path, seed=11, prepared=sessions)  # pytest.main this time
    assert first.score == second.score == first.max_score > 0
    assert [c.name for c in first.checks] == [c.name for c in second.checks]


def test_check_file_that_fails_to_load_fails_every_run(tmp_path):
    """A collection error, recorded when the slot collects, reaches each submission's result."""
    from dataclasses import replace

    spec = load_registry().get("softmax")
    broken = tmp_path / "test_broken_checks.py"
    broken.write_text("import no_such_module_anywhere\n\ndef test_x(student):\n    pass\n")
    spec = replace(spec, checks=(broken,), hidden_checks=())
    files, without_hidden = check_files([spec], GradeOptions(seed=11))
    sessions = PreparedSessions(pytest_args)
    assert sessions.get(files, without_hidden) is not None

    def run():
        from grader.runner import grade
        from grader.submission import from_solutions

        results = grade([spec], from_solutions([spec]),
                        GradeOptions(seed=11, prepared=sessions))  # fmt: skip
        return [c.to_json() for c in results[0].checks]

    for _ in range(2):
        checks = _in_fork(run)
        assert len(checks) == 1 and "could not load the checks" in checks[0]["message"], checks
        assert "no_such_module_anywhere" in checks[0]["message"]


def test_a_batch_slot_grades_through_its_prepared_session(tmp_path, monkeypatch):
    """The slot collects once, before forking; its per-submission processes never fall back
    to pytest.main (which would be as correct, and slower)."""
    import shutil

    import grader.runner
    import grader.zygote
    from grader.batch.discover import discover
    from grader.batch.job import JobOptions, fingerprint
    from grader.batch.slot import Slot

    for student in ("s1", "s2"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        shutil.copy(SOLUTIONS / "softmax.py", tmp_path / "subs" / student / "softmax.py")
    options = JobOptions(["softmax"], timeout=300, call_timeout=10)
    jobs = [{"id": e.id, "digest": e.digest, "label": e.label, "source": e.source(), "options": options.to_json(),
             "fingerprint": fingerprint(options)} for e in discover(tmp_path / "subs").entries]  # fmt: skip

    def no_fallback(*args, **kwargs):
        raise AssertionError("pytest.main was called in a slot's child")

    monkeypatch.setattr(grader.runner, "_run_pytest", no_fallback)  # the children inherit it
    # A slot makes its zygote the process's default; the next tests get theirs back.
    monkeypatch.setattr(grader.zygote, "_default", grader.zygote._default)
    slot = Slot()
    try:
        for job in jobs:
            result = slot.grade(job, "")
            slot.cleanup()
            assert result["status"] == "graded", result
            (exercise,) = result["exercises"]
            assert exercise["score"] == exercise["max_score"] > 0, exercise
        assert len(slot.sessions) == 1
    finally:
        slot.zygote.close()
        shutil.rmtree(slot.scratch, ignore_errors=True)
