"""``grade release``: a student kit is built, installed in a fresh venv, and graded like a student would.

One kit is built per module (softmax and whichever other exercises are finished and pass
``check-solutions`` right now); building it already installs it in a fresh venv and
compares stubs, solutions and every known mistake verdict for verdict with live grading.
The tests below read that report, look inside the kit, and grade more submissions in the
kit's venv (a wrong one, a notebook, an unrecorded seed) against live grading here.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from conftest import ROOT, SUBMISSIONS
from grader.cli import cli
from grader.release import KIT_MARKER, KitReport, build_kit, kit_env, scan_for_leaks

SOLUTIONS = ROOT / "solutions"


def complete_exercises() -> list[str]:
    """softmax, plus every other exercise whose files are all there (its solution may still fail)."""
    from grader.registry import load_registry

    registry = load_registry()
    done = {
        s.name for s in registry.ordered()
        if s.stub.is_file() and s.has_solution and s.checks and all(p.is_file() for p in s.checks)
    }  # fmt: skip
    modules = {s.module: s.name for s in registry.ordered()}
    return [s.name for s in registry.ordered() if s.name in done and all(modules.get(m) in done for m in s.requires)]


@dataclass
class Release:
    kit: Path
    venv: Path
    outside: Path  # a folder outside the kit, for submissions
    report: KitReport
    names: list[str]

    def start(self, *args: str) -> subprocess.Popen:
        """Start ``grade ARGS --json`` in the kit's venv, from a folder outside kit and course."""
        return subprocess.Popen(
            [str(self.venv / "bin" / "grade"), *args, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.outside, env=kit_env(self.venv),
        )  # fmt: skip

    @staticmethod
    def finish(proc: subprocess.Popen) -> tuple[int, dict]:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1), err[-2000:]
        return proc.returncode, json.loads(out)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    root = tmp_path_factory.mktemp("release")
    names = complete_exercises()
    # The first known mistake of each exercise keeps the build fast; `grade release` does all.
    report = build_kit(root / "kit", names, venv_dir=root / "venv", mistakes=1)
    if report.unfinished and "softmax" not in report.unfinished:
        # An exercise another change is still writing (its solution fails live): leave it out.
        names = [n for n in names if n not in report.unfinished]
        report = build_kit(root / "kit", names, venv_dir=root / "venv", mistakes=1, force=True)
    outside = root / "outside"
    outside.mkdir()
    return Release(root / "kit", root / "venv", outside, report, names)


@pytest.fixture(scope="module")
def kit_runs(release) -> dict[str, tuple[int, dict]]:
    """Submissions graded in the kit's venv, side by side: a wrong one, a notebook, another seed."""
    nb = nbformat.read(release.kit / "notebooks" / "softmax.ipynb", as_version=4)
    tagged = [c for c in nb.cells if c.metadata.get("course_grader", {}).get("role") == "submission"]
    assert len(tagged) == 1
    tagged[0].source = (SOLUTIONS / "softmax.py").read_text()
    notebook = release.outside / "softmax.ipynb"
    nbformat.write(nb, str(notebook))
    solution = release.outside / "softmax.py"
    shutil.copyfile(SOLUTIONS / "softmax.py", solution)
    runs = {
        "wrong": ["exercise", "softmax", "--submission", str(SUBMISSIONS / "softmax" / "no_max.py")],
        "notebook": ["exercise", "softmax", "--submission", str(notebook)],
    }
    procs = {label: release.start(*args) for label, args in runs.items()}
    return {label: release.finish(proc) for label, proc in procs.items()}


def kit_grade(release: Release, *args: str) -> subprocess.CompletedProcess:
    """``grade ARGS`` in the kit's venv, as a student types it (no --json added)."""
    return subprocess.run([str(release.venv / "bin" / "grade"), *args], capture_output=True, text=True,
                          cwd=release.outside, env=kit_env(release.venv), timeout=600)  # fmt: skip


def live(exercise: str, submission: Path) -> list[dict]:
    """Live grading in the course repo, visible checks only (what a kit can show)."""
    from grader.api import grade_exercise
    from grader.runner import GradeOptions

    return [c.to_json() for c in grade_exercise(exercise, submission, GradeOptions(include_hidden=False)).checks]


def kit_files(kit: Path) -> list[Path]:
    return [p for p in kit.rglob("*") if p.is_file()]


# --------------------------------------------------------------------------- the build's own verification


@pytest.mark.slow
def test_release_is_verified_against_live_grading(release):
    report = release.report
    assert report.ok, report.problems
    labels = [p.label for p in report.passes]
    assert "the stubs" in labels and "the solutions" in labels
    assert any(label.startswith("known mistakes") for label in labels)
    for check in report.passes:
        assert not check.mismatches
        assert check.checks > 0
    stubs = next(p for p in report.passes if p.label == "the stubs")
    solutions = next(p for p in report.passes if p.label == "the solutions")
    assert set(stubs.scores) == set(solutions.scores) == set(release.report.exercises)
    assert all(score == 0 for score, _ in stubs.scores.values())
    assert all(score == top > 0 for score, top in solutions.scores.values())
    text = "\n".join(report.lines())
    assert "import solutions` fails" in text and "no solution function or class body" in text
    assert "kit ready" in text


@pytest.mark.slow
def test_kit_layout_has_what_students_need_and_nothing_else(release):
    kit = release.kit
    for name in release.report.exercises:
        folder = kit / "exercises" / name
        assert (folder / "__init__.py").is_file()
        assert any(folder.glob("test_*.py"))
        assert (folder / f"{name}.reference.json").is_file() and (folder / f"{name}.reference.bin").is_file()
        assert (kit / "notebooks" / f"{name}.ipynb").is_file()
    assert (kit / "grader" / "cli.py").is_file() and (kit / "README.md").is_file()
    assert (kit / "pyproject.toml").read_text().startswith(KIT_MARKER)
    assert '"solutions"' not in (kit / "pyproject.toml").read_text()
    for absent in ("solutions", "tests", ".ci", ".git"):
        assert not (kit / absent).exists(), absent
    names = {p.name for p in kit_files(kit)}
    assert not [n for n in names if n.endswith("_mistakes.py") or n.endswith("_hidden.py")]
    assert not [p for p in kit.rglob("*") if p.name == "__pycache__" or p.name.endswith(".egg-info")]


@pytest.mark.slow
def test_kit_holds_no_solution_code_and_no_hidden_check(release):
    texts = {p: p.read_bytes().decode("utf-8", "replace") for p in kit_files(release.kit)}
    # Independent of the release's own scan: distinctive solution lines and hidden check names.
    solution_lines = [
        line.strip() for line in (SOLUTIONS / "softmax.py").read_text().splitlines()
        if line.startswith("    ") and not line.strip().startswith("#") and len(line.strip()) > 20
    ]  # fmt: skip
    assert solution_lines
    hidden = ["test_non_contiguous_input", "test_minus_infinity_gets_zero_weight", "test_softmax_hidden"]
    for path, text in texts.items():
        for line in solution_lines:
            assert line not in text, f"{path} holds solution line {line!r}"
        for name in hidden:
            assert name not in text, f"{path} mentions hidden check {name}"
    problems, _ = scan_for_leaks(release.kit, sorted(SOLUTIONS.rglob("*.py")), list((ROOT / "exercises").rglob("*.py")))
    assert problems == []


@pytest.mark.slow
def test_leak_scan_catches_solution_code_and_hidden_checks(release, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(release.kit, kit, ignore=shutil.ignore_patterns("data"))
    # A reformatted copy of the solution in a .py, the mistakes as text in a note, a hidden check.
    solution = (SOLUTIONS / "softmax.py").read_text().replace("    # Subtracting", "    # (comment changed) Subtracting")
    (kit / "exercises" / "softmax" / "softmax.py").write_text(solution)
    (kit / "NOTES.md").write_text("```\n" + (SOLUTIONS / "softmax_mistakes.py").read_text() + "```\n")
    with open(kit / "exercises" / "softmax" / "test_softmax.py", "a") as f:
        f.write("\n\n@pytest.mark.hidden\ndef test_secret(student):\n    pass\n")
    problems, _ = scan_for_leaks(kit, sorted(SOLUTIONS.rglob("*.py")), [])
    text = "\n".join(problems)
    assert "exercises/softmax/softmax.py: holds the body of softmax.py:softmax" in text
    assert "NOTES.md: holds the text of softmax_mistakes.py" in text
    assert "hidden check test_secret" in text


# --------------------------------------------------------------------------- grading in the kit's venv


@pytest.mark.slow
def test_kit_venv_sees_the_kit_not_the_course(release):
    probe = (
        "import grader, exercises, importlib.util\n"
        "print(grader.__file__); print(exercises.__file__); print(importlib.util.find_spec('solutions'))"
    )
    proc = subprocess.run([str(release.venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                          cwd=release.outside, env=kit_env(release.venv), check=True)  # fmt: skip
    grader_file, exercises_file, solutions = proc.stdout.split()
    assert Path(grader_file).resolve().is_relative_to(release.kit.resolve())
    assert Path(exercises_file).resolve().is_relative_to(release.kit.resolve())
    assert solutions == "None"


@pytest.mark.slow
def test_wrong_submission_gets_the_same_verdicts_as_live(kit_runs):
    code, doc = kit_runs["wrong"]
    assert code == 1
    assert 0 < doc["score"] < doc["max_score"]
    assert doc["checks"] == live("softmax", SUBMISSIONS / "softmax" / "no_max.py")
    large = next(c for c in doc["checks"] if c["name"] == "test_large_inputs_stay_finite")
    assert "no max subtraction" in large["message"]  # the recorded mistake is named without its code


@pytest.mark.slow
def test_notebook_submission_in_the_kit(release, kit_runs):
    code, doc = kit_runs["notebook"]
    assert code == 0 and doc["score"] == doc["max_score"] > 0
    assert doc["checks"] == live("softmax", release.outside / "softmax.ipynb")


@pytest.mark.slow
def test_unrecorded_seed_is_refused_up_front_in_one_line(release):
    solution = release.outside / "softmax_seed.py"
    shutil.copyfile(SOLUTIONS / "softmax.py", solution)
    proc = kit_grade(release, "exercise", "softmax", "--submission", str(solution), "--seed", "7", "--json")
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""  # no check ran: nothing "out of date" check by check
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1, proc.stderr
    assert "--seed 7" in lines[0] and "--seed 0 only" in lines[0] and "grade release --seed 7" in lines[0]
    assert "Traceback" not in proc.stderr
    # The recorded seed is still accepted when named.
    code, doc = release.finish(release.start("exercise", "softmax", "--submission", str(solution), "--seed", "0"))
    assert code == 0 and doc["score"] == doc["max_score"] > 0


@pytest.mark.slow
def test_unrecorded_call_says_the_kit_is_out_of_date(release, tmp_path):
    """Below the CLI's refusal, the replayed reference still names the seed a miss comes from."""
    from grader.registry import load_registry
    from grader.runner import GradeOptions, grade
    from grader.submission import Submission

    course = load_registry().get("softmax")
    folder = release.kit / "exercises" / "softmax"
    kit_spec = dataclasses.replace(
        course, stub=folder / "softmax.py", checks=tuple(folder / p.name for p in course.checks), solution=None,
        mistakes=None, hidden_checks=(),
    )  # fmt: skip
    [result] = grade([kit_spec], Submission("solution", {"softmax": SOLUTIONS / "softmax.py"}), GradeOptions(seed=7))
    by_name = {c.name: c for c in result.checks}
    # test_rows_sum_to_one asks the reference too: its property counts only for an output
    # that follows the reference's (a uniform output has it).
    uses_reference = ["test_values_match_reference", "test_default_dim_is_last", "test_gradients_match_reference",
                      "test_rows_sum_to_one"]
    for name in uses_reference:
        check = by_name[name]
        assert check.status == "error" and check.points == 0, check
        assert "this student kit is out of date" in check.message
        assert "--seed 7" in check.message and "grade release --seed 7" in check.message
    # Nothing is graded as a student failure for want of a recording.
    assert all(c.status != "failed" for c in result.checks), [c.name for c in result.checks if c.status == "failed"]


# --------------------------------------------------------------------------- what a student is told and offered


@pytest.mark.slow
def test_kit_readme_sets_up_a_venv_with_cpu_torch(release):
    readme = (release.kit / "README.md").read_text()
    assert "python3 -m venv .venv" in readme and "source .venv/bin/activate" in readme
    assert "Python >= 3.10" in readme
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in readme
    assert "plain `pip install torch` on Linux pulls the CUDA" in readme
    assert 'pip install -e ".[notebook]"' in readme and "jupyter notebook notebooks/" in readme
    assert "--watch" in readme
    for command in ("grade batch", "grade release", "check-solutions"):
        assert command not in readme


@pytest.mark.slow
def test_kit_readme_says_what_is_checked_here_and_what_is_hidden(release):
    """Points visible and hidden per exercise, computed from the course's check files."""
    from grader.api import static_checks
    from grader.registry import load_registry

    readme = (release.kit / "README.md").read_text()
    registry = load_registry()
    here_all = hidden_all = 0.0
    for name in release.report.exercises:
        checks = static_checks(registry.get(name), include_hidden=True)
        here = sum(c.points for c in checks if not c.hidden)
        hidden = sum(c.points for c in checks if c.hidden)
        assert hidden > 0, name  # every exercise has hidden checks: the README must not say otherwise
        row = next(line for line in readme.splitlines() if line.startswith("| ") and f"`{name}`" in line)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[-3].startswith(f"{here:g} (") and cells[-2].startswith(f"{hidden:g} (") and cells[-1] == f"{here + hidden:g}"
        here_all += here
        hidden_all += hidden
    assert f"out of {here_all + hidden_all:g} points" in readme
    assert f"**{here_all:g} come from the" in readme and f"**{hidden_all:g} from" in readme
    assert "secret seed" in readme
    assert "Your verdicts are the ones your instructor's grader gives" not in readme


@pytest.mark.slow
def test_kit_pyproject_leaves_out_instructor_dependencies(release):
    import tomllib

    kit = tomllib.loads((release.kit / "pyproject.toml").read_text())["project"]
    course = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(">")[0].split(";")[0].strip().lower() for d in kit["dependencies"]]
    assert "pytest" in names and "dev" in course["optional-dependencies"]
    assert "watchfiles" in names and "torch" in names
    assert kit["optional-dependencies"]["notebook"] == course["optional-dependencies"]["notebook"]
    assert "dev" not in kit["optional-dependencies"]


def test_kit_dependencies_leave_out_instructor_only_libraries():
    from grader.release.kit import kit_dependencies

    course = {
        "project": {"dependencies": ["torch", "Plotly>=5; python_version>'3'", "click"],
                    "optional-dependencies": {"notebook": ["jupyter", "plotly"]}},
        "tool": {"grader": {"kit": {"instructor-only": ["plotly"], "extras": ["notebook"]}}},
    }  # fmt: skip
    assert kit_dependencies(course) == (["torch", "click"], {"notebook": ["jupyter"]})


@pytest.mark.slow
def test_kit_grade_hides_instructor_commands_and_options(release):
    top = kit_grade(release, "--help")
    assert top.returncode == 0, top.stderr
    for shown in ("exercise", "all", "list", "notebook"):
        assert f"  {shown} " in top.stdout
    for hidden in ("batch", "release", "check-solutions"):
        assert hidden not in top.stdout
    exercise_help = kit_grade(release, "exercise", "--help")
    assert "--watch" in exercise_help.stdout and "--seed" not in exercise_help.stdout
    refused = kit_grade(release, "batch", str(release.outside), "--out", str(release.outside / "results"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "instructor" in refused.stderr
    assert not (release.outside / "results").exists()


def test_course_grade_shows_instructor_commands(monkeypatch):
    """Where the solutions are installed every command is listed; a kit (faked here) hides them."""
    from grader import cli as cli_module

    result = CliRunner().invoke(cli, ["--help"])
    assert all(name in result.output for name in ("batch", "release", "check-solutions"))
    assert "--seed" in CliRunner().invoke(cli, ["exercise", "--help"]).output
    monkeypatch.setattr(cli_module, "_student_kit", lambda: True)
    result = CliRunner().invoke(cli, ["--help"])
    assert not any(name in result.output for name in ("batch", "release", "check-solutions"))
    assert "--seed" not in CliRunner().invoke(cli, ["exercise", "--help"]).output
    refused = CliRunner().invoke(cli, ["check-solutions", "softmax"])
    assert refused.exit_code == 2 and "instructor" in refused.output


@pytest.mark.slow
def test_edited_check_file_is_reported_out_of_date(release, tmp_path):
    """A kit's check asking something new: named as out of date, in-process replay (no solution)."""
    from grader.api import grade
    from grader.registry import load_registry
    from grader.submission import Submission

    folder = tmp_path / "softmax"
    shutil.copytree(release.kit / "exercises" / "softmax", folder)
    checks = folder / "test_softmax.py"
    checks.write_text(checks.read_text() + (
        "\n\n@pytest.mark.points(1)\n"
        "def test_new_question(student, reference):\n"
        "    x = torch.arange(7.0)\n"
        "    expect_close(student.softmax(x), reference.softmax(x), 'softmax(arange(7))')\n"
    ))  # fmt: skip
    course = load_registry().get("softmax")
    kit_spec = dataclasses.replace(
        course, stub=folder / "softmax.py", checks=(checks,), solution=None, mistakes=None, hidden_checks=()
    )
    [result] = grade([kit_spec], Submission("solution", {"softmax": SOLUTIONS / "softmax.py"}))
    by_name = {c.name: c for c in result.checks}
    new = by_name["test_new_question"]
    assert new.status == "error" and "out of date" in new.message and "test_softmax.py changed" in new.message
    # The recorded questions still replay: every other check passes, none is hidden.
    assert all(c.status == "passed" for n, c in by_name.items() if n != "test_new_question")
    assert not any(c.hidden for c in result.checks)


# --------------------------------------------------------------------------- the command's guard rails


def test_release_refuses_a_non_empty_folder(tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "homework.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["release", str(kit), "--exercises", "softmax"])
    assert result.exit_code == 2
    assert "not empty" in result.output and "--force" in result.output
    assert "Traceback" not in result.output
    # --force replaces an earlier kit only, never a folder of something else.
    result = CliRunner().invoke(cli, ["release", str(kit), "--exercises", "softmax", "--force"])
    assert result.exit_code == 2 and "not a kit written by grade release" in result.output
    assert (kit / "homework.txt").read_text() == "mine"


def test_release_unknown_exercise_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["release", str(tmp_path / "kit"), "--exercises", "softmax,nope"])
    assert result.exit_code == 2
    assert "no exercise named 'nope'" in result.output and "Traceback" not in result.output


def test_release_refuses_to_write_over_the_course(tmp_path):
    result = CliRunner().invoke(cli, ["release", str(ROOT), "--force", "--exercises", "softmax"])
    assert result.exit_code == 2 and "course itself" in result.output


def test_force_replaces_an_earlier_kit_without_verifying(tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "pyproject.toml").write_text(KIT_MARKER + ": an old one\n")
    (kit / "stale.txt").write_text("old")
    result = CliRunner().invoke(cli, ["release", str(kit), "--exercises", "softmax", "--force", "--no-verify"])
    assert result.exit_code == 0, result.output
    assert not (kit / "stale.txt").exists()
    assert (kit / "exercises" / "softmax" / "softmax.reference.json").is_file()
    assert "not verified in a fresh environment" in result.output


def test_a_known_mistake_written_as_a_submission_imports_from_its_one_file(tmp_path):
    # The release's "known mistakes" passes grade each mistake as a submission. A submission
    # is graded from a private copy of each file alone, so the wrapper must carry the
    # reference and the mistakes in itself (it used to load siblings, and every check of
    # those passes failed at import, unnoticed: the messages matched between kit and live).
    from conftest import grade_file
    from grader.registry import load_registry
    from grader.release.record import _mistake_folder

    spec = load_registry().get("softmax")
    name = "no max subtraction: exp() overflows for large inputs"
    folder, chosen = _mistake_folder(0, {"softmax": [name]}, [spec], tmp_path / "mistake")
    assert chosen == {"softmax": name}
    result = grade_file("softmax", folder)
    messages = " ".join(c.message for c in result.checks)
    assert "importing" not in messages and "Error" not in messages, messages
    assert 0 < result.score < result.max_score
    assert "no max subtraction" in messages
