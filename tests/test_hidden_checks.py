"""Hidden checks: run where the solutions are, marked in reports, never in a student kit."""

from __future__ import annotations

import dataclasses
import json

from click.testing import CliRunner

from conftest import ROOT
from grader.api import grade, list_exercises
from grader.cli import cli
from grader.registry import load_registry
from grader.release import strip_hidden_checks
from grader.runner import GradeOptions
from grader.submission import from_solutions

HIDDEN = {"test_non_contiguous_input", "test_minus_infinity_gets_zero_weight"}


def softmax_spec():
    return load_registry().get("softmax")


def test_hidden_checks_run_with_the_solutions_and_are_marked():
    result = CliRunner().invoke(cli, ["check-solutions", "softmax", "--json"])
    assert result.exit_code == 0, result.output
    [doc] = json.loads(result.output)
    hidden = [c for c in doc["checks"] if c.get("hidden")]
    assert {c["name"] for c in hidden} == HIDDEN
    assert all(c["status"] == "passed" for c in hidden)
    assert all("hidden" not in c for c in doc["checks"] if c["name"] not in HIDDEN)
    # `grade list` shows what students can see: visible points only.
    [info] = [i for i in list_exercises() if i.spec.name == "softmax"]
    assert info.max_points == doc["max_score"] - sum(c["max_points"] for c in hidden)


def test_hidden_checks_left_out_when_asked():
    spec = softmax_spec()
    [result] = grade([spec], from_solutions([spec]), GradeOptions(include_hidden=False))
    assert not HIDDEN & {c.name for c in result.checks}
    assert result.checks and not any(c.hidden for c in result.checks)


def test_no_hidden_checks_where_there_is_no_solution():
    # As in a student kit: no solution installed, so hidden checks are never collected.
    spec = dataclasses.replace(softmax_spec(), solution=None, mistakes=None)
    [result] = grade([spec], from_solutions([softmax_spec()]))
    assert result.checks and not HIDDEN & {c.name for c in result.checks}


def test_hidden_marker_in_a_visible_check_file_is_deselected_without_solutions(tmp_path):
    checks = tmp_path / "test_softmax.py"
    checks.write_text(
        "import pytest\nimport torch\n\n"
        "@pytest.mark.points(1)\n"
        "def test_visible(student):\n    assert student.softmax(torch.zeros(2)).shape == (2,)\n\n"
        "@pytest.mark.hidden\n@pytest.mark.points(5)\n"
        "def test_secret(student):\n    assert student.softmax(torch.zeros(3)).shape == (3,)\n"
    )
    spec = dataclasses.replace(softmax_spec(), checks=(checks,), hidden_checks=())
    solutions = from_solutions([softmax_spec()])
    [without] = grade([spec], solutions, GradeOptions(include_hidden=False))
    assert [c.name for c in without.checks] == ["test_visible"]
    [with_hidden] = grade([spec], solutions, GradeOptions(include_hidden=True))
    assert {c.name: c.hidden for c in with_hidden.checks} == {"test_visible": False, "test_secret": True}
    assert with_hidden.score == 6


def test_strip_hidden_checks_keeps_the_visible_ones():
    source = (
        '"""Checks."""\nimport pytest\n\n\n'
        "@pytest.mark.points(2)\ndef test_visible():\n    assert True\n\n\n"
        "@pytest.mark.points(3)\n@pytest.mark.hidden\ndef test_secret():\n    x = 1\n    assert x\n\n\n"
        "@pytest.mark.hidden()\nclass TestSecrets:\n    def test_a(self):\n        pass\n\n\n"
        "def test_last():\n    pass\n"
    )
    stripped, names = strip_hidden_checks(source)
    assert names == ["test_secret", "TestSecrets"]
    assert "secret" not in stripped.lower() and "hidden" not in stripped
    assert "def test_visible" in stripped and "def test_last" in stripped
    compile(stripped, "checks.py", "exec")
    module_wide, names = strip_hidden_checks("import pytest\npytestmark = pytest.mark.hidden\n\ndef test_a():\n    pass\n")
    assert names == ["pytestmark"] and "pytestmark" not in module_wide


def test_hidden_check_file_lives_beside_the_solutions():
    spec = softmax_spec()
    assert spec.hidden_checks == (ROOT / "solutions" / "hidden" / "test_softmax_hidden.py",)
    assert all(p.is_file() for p in spec.hidden_checks)
    assert not list((ROOT / "exercises").rglob("*_hidden.py"))
