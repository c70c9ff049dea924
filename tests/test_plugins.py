"""A third-party exercise pack, installed with pip, is listed and graded like a built-in one."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PACK_FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "toy-exercise-pack"
        version = "0.0.1"

        [project.entry-points."grader.exercises"]
        double = "toy_pack:EXERCISE"
        broken = "toy_pack:MISSING"

        [tool.setuptools]
        packages = ["toy_pack"]

        [tool.setuptools.package-data]
        toy_pack = ["*.py"]
    """,
    "toy_pack/__init__.py": """
        from pathlib import Path

        from grader.spec import ExerciseSpec

        HERE = Path(__file__).resolve().parent
        EXERCISE = ExerciseSpec(
            name="double",
            title="Double a tensor",
            order=90,
            module="double",
            stub=HERE / "double.py",
            checks=(HERE / "test_double.py",),
            solution=HERE / "reference_double.py",
        )
    """,
    "toy_pack/double.py": """
        def double(x):
            raise NotImplementedError("double: return 2 * x")
    """,
    "toy_pack/reference_double.py": """
        def double(x):
            return x + x
    """,
    "toy_pack/test_double.py": """
        import pytest
        import torch

        from grader.compare import expect_close


        @pytest.mark.points(4)
        def test_doubles(student, reference, generator):
            x = torch.randn(3, 4, generator=generator)
            expect_close(student.double(x), reference.double(x), "double(x)")
    """,
}


@pytest.fixture(scope="module")
def installed_pack(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("pack")
    source = root / "src"
    for name, text in PACK_FILES.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def grade(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], env=env, capture_output=True, text=True, timeout=300)


def test_pack_is_listed_and_a_broken_entry_point_is_reported(installed_pack):
    listed = grade(installed_pack, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    names = [i["name"] for i in json.loads(listed.stdout)]
    assert "double" in names and "softmax" in names
    assert names.index("double") > names.index("softmax")  # order=90: after the course
    table = grade(installed_pack, "list")
    assert "broken plugin" in table.stdout and "MISSING" in table.stdout


def test_pack_exercise_is_graded(installed_pack, tmp_path):
    stub = grade(installed_pack, "exercise", "double", "--json")
    assert stub.returncode == 1, stub.stderr
    doc = json.loads(stub.stdout)
    assert doc["score"] == 0 and doc["max_score"] == 4
    assert "not implemented" in doc["checks"][0]["message"]

    solutions = grade(installed_pack, "check-solutions", "double")
    assert solutions.returncode == 0, solutions.stdout + solutions.stderr

    mine = tmp_path / "double.py"
    mine.write_text("def double(x):\n    return 2 * x\n")
    graded = grade(installed_pack, "exercise", "double", "--submission", str(mine), "--json")
    assert graded.returncode == 0
    assert json.loads(graded.stdout)["score"] == 4


def test_pack_is_absent_without_the_install():
    listed = subprocess.run([sys.executable, "-m", "grader.cli", "list", "--json"], capture_output=True, text=True)
    assert "double" not in [i["name"] for i in json.loads(listed.stdout)]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import pytest\n@pytest.mark.points('many')\ndef test_x():\n    pass\n", "needs one number, got 'many'"),
        ("def test_x(:\n", "does not parse"),
    ],
)
def test_a_broken_check_file_is_named_never_skipped_or_guessed(tmp_path, source, expected):
    from grader.api import CheckFileError, static_checks
    from grader.spec import ExerciseSpec

    checks = tmp_path / "test_broken.py"
    checks.write_text(source)
    spec = ExerciseSpec("broken", "Broken", 99, "broken", tmp_path / "broken.py", (checks,))
    with pytest.raises(CheckFileError, match=expected) as info:
        static_checks(spec)
    assert str(checks) in str(info.value)
