"""The runner: several exercises in one pytest session keep their checks apart."""

from grader.api import grade_exercises, static_checks
from grader.registry import load_registry


def test_each_exercise_gets_exactly_its_own_checks():
    registry = load_registry()
    results = grade_exercises(None)
    assert [r.exercise for r in results] == [s.name for s in registry.ordered()]
    for result in results:
        spec = registry.get(result.exercise)
        expected = sorted(c.name for c in static_checks(spec, include_hidden=spec.has_solution))
        got = sorted(c.name.split("[")[0] for c in result.checks)
        assert got == expected, result.exercise
        assert result.score == 0  # the untouched stubs


def test_points_come_from_the_marker():
    registry = load_registry()
    [result] = grade_exercises(["softmax"])
    static = {c.name: c.points for c in static_checks(registry.get("softmax"), include_hidden=True)}
    for check in result.checks:
        assert check.max_points == static[check.name.split("[")[0]]


def test_builtin_fixtures_an_exercise_may_use_survive_the_trimmed_session(tmp_path):
    """The grader's pytest session leaves out plugins and capture; tmp_path, monkeypatch
    and capsys, which an exercise's checks may use, still work."""
    from grader.runner import pytest_args, _run_pytest

    check = tmp_path / "test_uses_builtins.py"
    check.write_text(
        "def test_builtins(tmp_path, monkeypatch, capsys):\n"
        "    (tmp_path / 'f').write_text('x')\n"
        "    monkeypatch.setenv('GRADER_TEST_VARIABLE', '1')\n"
        "    print('hello')\n"
        "    assert capsys.readouterr().out == 'hello\\n'\n"
    )

    class Nothing:
        def close(self):
            pass

    code, output = _run_pytest(pytest_args({check: None}), Nothing(), str(tmp_path))
    assert code == 0, output


def test_workers_start_with_malloc_on_huge_pages_and_keep_other_tunables():
    from grader.zygote import worker_environment

    assert worker_environment({})["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"
    env = worker_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0"})
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"


def test_a_check_file_that_fails_to_import_is_named_with_its_error(tmp_path):
    """The plugin finds the exercise of a collection error (its report's path is relative to
    the rootdir) and says what failed, instead of 'no checks ran'."""
    import subprocess
    import sys

    check = tmp_path / "test_broken_checks.py"
    check.write_text("import no_such_module_anywhere\n\ndef test_x(student):\n    pass\n")
    script = (
        "import sys; from dataclasses import replace; from pathlib import Path\n"
        "from grader.registry import load_registry; from grader.runner import grade, GradeOptions\n"
        "from grader.submission import from_solutions\n"
        "spec = replace(load_registry().get('softmax'), checks=(Path(sys.argv[1]),), hidden_checks=())\n"
        "print(grade([spec], from_solutions([spec]), GradeOptions(seed=11))[0].checks[0].message)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(check)], capture_output=True, text=True, timeout=300)
    assert "could not load the checks" in out.stdout and "no_such_module_anywhere" in out.stdout, out.stdout + out.stderr
