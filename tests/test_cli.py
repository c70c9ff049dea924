"""The grade command through click's CliRunner: exit codes, JSON, user errors."""

import json

import pytest
from click.testing import CliRunner

from conftest import ROOT, SUBMISSIONS
from grader.cli import cli

CHECK_KEYS = {"name", "points", "max_points", "status", "message"}


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_list_shows_exercises_in_course_order():
    result = invoke("list", "--json")
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    orders = [i["order"] for i in items]
    assert orders == sorted(orders)
    softmax = next(i for i in items if i["name"] == "softmax")
    assert softmax["max_points"] > 0 and softmax["title"]
    table = invoke("list")
    assert "softmax" in table.stdout and "Numerically stable softmax" in table.stdout


def test_exercise_json_is_one_document_with_the_documented_schema():
    result = invoke("exercise", "softmax", "--json")
    assert result.exit_code == 1  # the stub fails every check
    doc = json.loads(result.stdout)
    assert set(doc) >= {"exercise", "score", "max_score", "device", "seconds", "checks"}
    assert doc["exercise"] == "softmax" and doc["score"] == 0 and doc["device"] == "cpu"
    for check in doc["checks"]:
        assert set(check) >= CHECK_KEYS
        assert check["status"] in ("passed", "failed", "error")


def test_exercise_exit_code_zero_when_all_checks_pass():
    result = invoke("exercise", "softmax", "--submission", str(SUBMISSIONS / "softmax" / "logsumexp.py"))
    assert result.exit_code == 0, result.output
    import re

    assert re.search(r"softmax: (\d+)/\1 points", result.stdout), result.stdout


def test_unknown_exercise_is_a_usage_error_naming_the_known_ones():
    result = invoke("exercise", "sofmax")
    assert result.exit_code == 2
    assert "no exercise named 'sofmax'" in result.stderr and "softmax" in result.stderr
    assert "Traceback" not in result.output


def test_missing_submission_file_is_a_one_line_error(tmp_path):
    result = invoke("exercise", "softmax", "--submission", str(tmp_path / "nope.py"))
    assert result.exit_code == 2
    assert "submission not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_wrong_kind_of_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "softmax.txt"
    bad.write_text("hello")
    result = invoke("exercise", "softmax", "--submission", str(bad))
    assert result.exit_code == 2
    assert ".py file" in result.stderr


def test_submission_with_a_syntax_error_fails_with_its_line(tmp_path):
    bad = tmp_path / "softmax.py"
    bad.write_text("def softmax(x, dim=-1)\n    return x\n")
    result = invoke("exercise", "softmax", "--submission", str(bad), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["score"] == 0
    assert "SyntaxError" in doc["checks"][0]["message"] and "line 1" in doc["checks"][0]["message"]


def test_folder_submission_flat_and_nested(tmp_path):
    source = (SUBMISSIONS / "softmax" / "logsumexp.py").read_text()
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "softmax.py").write_text(source)
    (tmp_path / "nested" / "softmax").mkdir(parents=True)
    (tmp_path / "nested" / "softmax" / "softmax.py").write_text(source)
    for folder in ("flat", "nested"):
        result = invoke("exercise", "softmax", "--submission", str(tmp_path / folder), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["score"] == json.loads(result.stdout)["max_score"]


def test_all_with_json_is_a_list_and_missing_modules_fail_with_a_reason(tmp_path):
    (tmp_path / "softmax.py").write_text((SUBMISSIONS / "softmax" / "logsumexp.py").read_text())
    result = invoke("all", "--submission", str(tmp_path), "--json")
    docs = json.loads(result.stdout)
    assert isinstance(docs, list) and docs[0]["exercise"] == "softmax"
    assert docs[0]["score"] == docs[0]["max_score"]
    others = [d for d in docs if d["exercise"] != "softmax"]
    for doc in others:
        assert doc["score"] == 0
        assert "no " in doc["checks"][0]["message"] and str(tmp_path) in doc["checks"][0]["message"]
    assert result.exit_code == (1 if others else 0)


def test_check_solutions_passes():
    result = invoke("check-solutions", "softmax")
    assert result.exit_code == 0, result.output


def test_device_cuda_without_cuda_is_a_usage_error():
    import torch

    result = invoke("exercise", "softmax", "--device", "cuda")
    if torch.cuda.is_available():
        assert result.exit_code in (0, 1)
    else:
        assert result.exit_code == 2
        assert "CUDA" in result.stderr


def test_student_text_that_looks_like_rich_markup_is_printed_as_written(tmp_path):
    sub = tmp_path / "softmax.py"
    sub.write_text('def softmax(x, dim=-1):\n    raise ValueError("closing [/] and [bold]loud[/bold] and [/link]")\n')
    result = invoke("exercise", "softmax", "--submission", str(sub))
    assert result.exit_code == 1, result.output
    assert "[bold]loud[/bold]" in result.stdout and "[/link]" in result.stdout
    assert "[at softmax.py" in result.stdout  # the location survives too


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_call_timeout_that_is_not_positive_is_a_usage_error(value):
    # Else a correct submission "did not return: the call took longer than 0 s".
    result = CliRunner().invoke(cli, ["exercise", "softmax", "--timeout", value, "--submission", str(ROOT / "solutions" / "softmax.py")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--timeout" in result.output and "x>0" in result.output
