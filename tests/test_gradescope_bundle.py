"""`grade gradescope`: the bundle built, unzipped into a root laid out like /autograder,
set up into a fresh venv by its own setup.sh, and run by its own run_autograder on
correct, wrong, notebook, empty and hostile submissions; results.json checked against
Gradescope's published format (https://gradescope-autograders.readthedocs.io, "Output
format") and the expected scores. Plus the cheap paths in-process: the CLI's refusals,
a machine that refuses the jail, the metadata, results.json written over a forgery.

The end-to-end part costs about a minute and a half on an idle machine (one bundle build,
one `setup.sh`, four graded submissions side by side).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import submission_file
from click.testing import CliRunner

from grader.api import static_checks
from grader.registry import load_registry
from grader.release import gradescope_autograder as autograder
from grader.release.gradescope_bundle import RUN_AUTOGRADER, SETUP_SH

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
EXERCISES = ["softmax", "attention"]
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
OUTPUT_FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def assert_gradescope_format(doc: dict) -> None:
    """Gradescope's results.json: what it requires, with the types it accepts."""
    assert isinstance(doc, dict)
    assert isinstance(doc["score"], (int, float)) and not isinstance(doc["score"], bool)
    assert isinstance(doc["output"], str)
    assert doc.get("visibility", "visible") in VISIBILITY
    assert doc.get("stdout_visibility", "visible") in VISIBILITY
    assert doc.get("output_format", "text") in OUTPUT_FORMATS
    assert isinstance(doc["tests"], list)
    for test in doc["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        for key in ("score", "max_score"):
            assert isinstance(test[key], (int, float)) and not isinstance(test[key], bool)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITY
    if doc["tests"]:
        assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))


def by_exercise(doc: dict) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for test in doc["tests"]:
        name = test["name"].split(":", 1)[0]
        score, top = out.get(name, (0.0, 0.0))
        out[name] = (score + test["score"], top + test["max_score"])
    return out


def full_marks(name: str) -> float:
    """Visible and hidden checks together, as the check files declare them."""
    return sum(c.points for c in static_checks(load_registry().get(name), include_hidden=True))


# --------------------------------------------------------------------------- building and setting up


def _unzip(bundle: Path, dest: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            archive.extract(info, dest)
            if (info.external_attr >> 16) & 0o111:
                (dest / info.filename).chmod(0o755)


def _fresh_venv(venv: Path) -> Path:
    """A venv that reuses this interpreter's packages (torch, pytest, ...) offline but not the
    course's own install (the release's kit venv does the same); setup.sh installs the kit."""
    from grader.release.environment import _course_owned, _site_dirs

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    lines = []
    for i, site_dir in enumerate(_site_dirs()):
        shadow = venv / "course-deps" / str(i)
        shadow.mkdir(parents=True)
        for entry in site_dir.iterdir():
            if not _course_owned(entry, "transformer_course_grader"):
                (shadow / entry.name).symlink_to(entry)
        lines.append(f"import site; site.addsitedir({str(shadow)!r})")
    (purelib / "_course_deps.pth").write_text("\n".join(lines) + "\n")
    return python


def _env(python: Path, root: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "GRADER_")) and k != "VIRTUAL_ENV"}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["GRADESCOPE_PYTHON"] = str(python)
    env["GRADESCOPE_SKIP_TORCH"] = "1"
    if root is not None:
        env["GRADESCOPE_ROOT"] = str(root)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bundle, the /autograder-like root it was set up in, the venv's python)."""
    from grader.jail import probe

    refused = probe()
    if refused is not None:
        pytest.skip(f"the bundle requires the jail, which this machine refuses ({refused})")
    work = tmp_path_factory.mktemp("gradescope")
    bundle = work / "autograder.zip"
    built = subprocess.run(
        [sys.executable, "-m", "grader.cli", "gradescope", str(bundle), "--exercises", ",".join(EXERCISES), "--mistakes", "1"],
        capture_output=True, text=True, cwd=work, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "bundle ready" in built.stdout

    root = work / "autograder"
    for folder in ("source", "submission", "results"):
        (root / folder).mkdir(parents=True)
    _unzip(bundle, root / "source")
    python = _fresh_venv(work / "venv")
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source", env=_env(python),
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert "torch is already there" in setup.stdout
    return bundle, root, python


def _run_all(root: Path, python: Path, submissions: dict[str, dict[str, bytes]], metadata: dict[str, bytes]) -> dict:
    """Each submission in its own root (sharing the installed source), run side by side:
    label -> (results.json as parsed, what run_autograder printed)."""
    runs = {}
    for label, files in submissions.items():
        mine = root.parent / f"root-{label}"
        (mine / "submission").mkdir(parents=True)
        (mine / "results").mkdir()
        (mine / "source").symlink_to(root / "source")
        for name, data in files.items():
            (mine / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
            (mine / "submission" / name).write_bytes(data)
        if label in metadata:
            (mine / "submission_metadata.json").write_bytes(metadata[label])
        # run_autograder is copied to the root, as Gradescope does
        shutil.copy(root / "source" / "run_autograder", mine / "run_autograder")
        runs[label] = (mine, subprocess.Popen([str(mine / "run_autograder")], cwd=mine, env=_env(python, mine),
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))  # fmt: skip
    out = {}
    for label, (mine, proc) in runs.items():
        printed, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, printed[-3000:]
        out[label] = (json.loads((mine / "results" / "results.json").read_text()), printed)
    return out


def _hostile(root_of: str) -> bytes:
    """A softmax that tries to forge results.json, read the recorded replies, the hidden checks and
    the bundle's seed; it answers correctly only if one of those reads succeeded."""
    return f'''import json, os, sys, torch

TARGETS = [{root_of!r}, "/autograder"]
FORGED = {{"score": 1000, "output": "forged", "tests": []}}
print(json.dumps(FORGED))  # a results document on stdout is nobody's results
for root in TARGETS:
    for path in (root + "/results/results.json", root + "/results/forged.json"):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(FORGED, f)
        except OSError:
            pass

STOLEN = []
for root in TARGETS:
    for rel in ("source/kit/exercises/softmax/softmax.reference.json", "source/kit/exercises/softmax/softmax.reference.bin",
                "source/kit/solutions/hidden/test_softmax_hidden.py", "source/gradescope_bundle.json"):
        try:
            with open(os.path.join(root, rel), "rb") as f:
                STOLEN.append(f.read(64))
        except OSError:
            pass


def softmax(x, dim=-1):
    if not STOLEN:
        return torch.zeros_like(x)
    e = torch.exp(x - x.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)
'''.encode()


def _notebook(source: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# My softmax"), nbformat.v4.new_code_cell(source),
                nbformat.v4.new_code_cell("!grade exercise softmax --submission softmax.ipynb")]  # fmt: skip
    return nbformat.writes(nb).encode()


@pytest.fixture(scope="module")
def graded(installed):
    bundle, root, python = installed
    solution = {f"{n}.py": (ROOT / "solutions" / f"{n}.py").read_bytes() for n in EXERCISES}
    submissions = {
        "correct": solution,
        # a notebook for softmax (as Gradescope stores uploads: loose files) and a known mistake for attention
        "notebook_and_wrong": {"softmax.ipynb": _notebook((ROOT / "solutions" / "softmax.py").read_text()),
                               "attention.py": submission_file("attention", "no_scaling.py").read_bytes()},
        "empty": {},
        "hostile": {"softmax.py": b"", "attention.py": solution["attention.py"]},
    }
    submissions["hostile"]["softmax.py"] = _hostile(str(root.parent / "root-hostile"))
    metadata = {
        "correct": json.dumps({"users": [{"name": "Ada <b>Lovelace</b>\u0007\n=HYPERLINK(1)", "sid": "s-42",
                                          "email": "ada@example.org"}], "assignment": {"title": "t"}}).encode(),  # fmt: skip
        "hostile": b"\xff not json at all",
    }
    return _run_all(root, python, submissions, metadata)


# --------------------------------------------------------------------------- the bundle itself


@pytest.mark.slow
def test_bundle_has_what_gradescope_expects_and_no_solution_code(installed):
    bundle, root, _ = installed
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert "setup.sh" in names and "run_autograder" in names  # at the top level
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert "kit/pyproject.toml" in names
    assert "kit/exercises/softmax/softmax.reference.json" in names
    assert "kit/solutions/hidden/test_softmax_hidden.py" in names  # the hidden checks, for grading
    for name in EXERCISES:
        assert f"kit/solutions/{name}.py" not in names and f"kit/solutions/{name}_mistakes.py" not in names
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    config = json.loads((root / "source" / "gradescope_bundle.json").read_text())
    from grader.secret import recordable

    assert config["exercises"] == EXERCISES and config["isolation"] == "required"
    assert not recordable(config["seed"])  # a grading seed, never one a student kit records
    recorded = json.loads((root / "source" / "kit" / "exercises" / "softmax" / "softmax.reference.json").read_text())
    assert recorded["seeds"] == [config["seed"]]
    # the same proof the build made, on the unzipped bundle
    from grader.release.build import leaks

    problems, _ = leaks(root / "source", [f"solutions/hidden/test_{n}_hidden.py" for n in EXERCISES])
    assert problems == []
    assert leaks(root / "source")[0], "without the allowance the hidden checks must be reported"


@pytest.mark.slow
def test_setup_installed_the_kit_not_the_course(installed):
    _, root, python = installed
    probe = "import grader, exercises, importlib.util; print(grader.__file__); print(exercises.__file__); " \
            "print(importlib.util.find_spec('solutions') is not None and importlib.util.find_spec('solutions.softmax') is not None)"
    out = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True, cwd="/",
                         env=_env(python), check=True).stdout.split()  # fmt: skip
    kit = (root / "source" / "kit").resolve()
    assert Path(out[0]).resolve().is_relative_to(kit) and Path(out[1]).resolve().is_relative_to(kit)
    assert out[2] == "False"


# --------------------------------------------------------------------------- grading


@pytest.mark.slow
def test_correct_submission_gets_full_marks_hidden_checks_after_published(graded):
    doc, printed = graded["correct"]
    assert_gradescope_format(doc)
    scores = by_exercise(doc)
    for name in EXERCISES:
        assert scores[name] == (full_marks(name), full_marks(name))
    assert doc["score"] == pytest.approx(sum(full_marks(n) for n in EXERCISES))
    hidden = [t for t in doc["tests"] if t["visibility"] == "after_published"]
    assert hidden and {t["visibility"] for t in doc["tests"]} == {"visible", "after_published"}
    assert all(t["status"] == "passed" for t in doc["tests"])
    # the metadata's name and id, as one line of plain text, control characters gone
    first = doc["output"].splitlines()[0]
    assert first.startswith("Graded for Ada") and "(s-42)" in first and "\x07" not in doc["output"]
    assert f"score {doc['score']:g}" in printed


@pytest.mark.slow
def test_notebook_and_wrong_attempt(graded):
    doc, _ = graded["notebook_and_wrong"]
    assert_gradescope_format(doc)
    scores = by_exercise(doc)
    assert scores["softmax"] == (full_marks("softmax"), full_marks("softmax"))  # the notebook
    got, top = scores["attention"]
    assert top == full_marks("attention") and 0 < got < top
    failed = [t for t in doc["tests"] if t["status"] == "failed"]
    assert any("scaling" in t["output"] for t in failed if t["visibility"] == "visible")
    for test in failed:  # a hidden check's message never reaches the student
        if test["visibility"] == "after_published":
            assert "hidden check" in test["output"]


@pytest.mark.slow
def test_empty_submission_scores_zero_and_says_why(graded):
    doc, _ = graded["empty"]
    assert_gradescope_format(doc)
    assert doc["score"] == 0
    scores = by_exercise(doc)
    assert scores["softmax"][0] == 0 and scores["attention"][0] == 0
    assert "no softmax.py" in doc["output"]


@pytest.mark.slow
def test_hostile_submission_forges_nothing_and_reads_nothing(graded):
    doc, printed = graded["hostile"]
    assert_gradescope_format(doc)
    assert doc["output"] != "forged" and doc["score"] != 1000
    scores = by_exercise(doc)
    # its softmax answers right only if it read a recording, the hidden checks or the seed
    assert scores["softmax"][0] == 0
    # ...and it did run (and answered zeros), rather than fail to load
    assert any("got 0" in t["output"] for t in doc["tests"] if t["name"].startswith("softmax:"))
    assert scores["attention"] == (full_marks("attention"), full_marks("attention"))
    assert "forged" not in json.dumps(doc)
    # unreadable metadata: graded all the same, no name line
    assert not doc["output"].startswith("Graded for")


@pytest.mark.slow
def test_hostile_wrote_nothing_in_the_root(graded, installed):
    _, root, _ = installed
    results = root.parent / "root-hostile" / "results"
    assert sorted(p.name for p in results.iterdir()) == ["results.json"]


# --------------------------------------------------------------------------- cheap paths, in-process


def test_cli_refusals_are_one_line(tmp_path):
    from grader.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["gradescope", str(tmp_path / "bundle.tar")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ".zip" in result.output
    (tmp_path / "b.zip").write_bytes(b"x")
    result = runner.invoke(cli, ["gradescope", str(tmp_path / "b.zip")])
    assert result.exit_code == 2 and "--force" in result.output
    result = runner.invoke(cli, ["gradescope", str(tmp_path / "c.zip"), "--exercises", "nope"])
    assert result.exit_code == 2 and "nope" in result.output
    assert (tmp_path / "b.zip").read_bytes() == b"x" and not (tmp_path / "c.zip").exists()


def test_hidden_and_refused_in_a_student_kit(monkeypatch):
    from grader import cli as cli_module

    monkeypatch.setattr(cli_module, "_student_kit", lambda: True)
    runner = CliRunner()
    assert "gradescope" not in runner.invoke(cli_module.cli, ["--help"]).output
    result = runner.invoke(cli_module.cli, ["gradescope", "x.zip"])
    assert result.exit_code == 2 and "instructor" in result.output


def _fake_root(tmp_path: Path, isolation: str = "required") -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    (root / "source" / "gradescope_bundle.json").write_text(
        json.dumps({"schema": 1, "exercises": ["softmax"], "seed": 2**20 + 5, "isolation": isolation}))
    return root


def test_a_machine_that_refuses_the_jail_gets_zero_with_the_reason(tmp_path, monkeypatch):
    import grader.jail

    root = _fake_root(tmp_path)
    monkeypatch.setenv("GRADESCOPE_ROOT", str(root))
    monkeypatch.setattr(grader.jail, "probe", lambda timeout=60.0: "unshare: Operation not permitted")
    assert autograder.main() == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(doc)
    assert doc["score"] == 0 and doc["tests"] == []
    assert "Operation not permitted" in doc["output"] and "--no-sandbox" in doc["output"]
    assert len(doc["output"].splitlines()) == 1


def test_a_broken_bundle_config_still_writes_results(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    (root / "source" / "gradescope_bundle.json").write_text("{not json")
    monkeypatch.setenv("GRADESCOPE_ROOT", str(root))
    assert autograder.main() == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0 and "broken" in doc["output"]


def test_results_replace_a_forgery_and_a_link(tmp_path):
    root = tmp_path / "autograder"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    (root / "results").mkdir(parents=True)
    (root / "results" / "results.json").symlink_to(elsewhere)
    path = autograder.write_results(root, autograder.failure_document("x"))
    assert not path.is_symlink() and json.loads(path.read_text())["score"] == 0
    assert elsewhere.read_text() == "{}"
    # a results folder that is a link is replaced by a folder
    other = tmp_path / "other"
    other.mkdir()
    shutil.rmtree(root / "results")
    (root / "results").symlink_to(other)
    path = autograder.write_results(root, autograder.failure_document("y"))
    assert (root / "results").is_dir() and not (root / "results").is_symlink() and list(other.iterdir()) == []


@pytest.mark.parametrize("content, expected", [
    (json.dumps({"users": [{"name": "Bob\x1b[31m\u202eevil", "sid": 7}]}), "Graded for Bob [31m evil (7)."),
    (json.dumps({"users": [{"name": "x" * 10_000}]}), None),
    (json.dumps({"users": "nobody"}), ""),
    (json.dumps([1, 2]), ""),
    ("{" * 100_000, ""),
    (json.dumps({"users": [{"name": True, "sid": {"a": 1}}]}), ""),
])
def test_metadata_is_cleaned_text(tmp_path, content, expected):
    (tmp_path / "submission_metadata.json").write_text(content)
    line = autograder.student_line(tmp_path)
    if expected is None:
        assert line.startswith("Graded for x") and len(line) < 120
    else:
        assert line == expected


def test_run_autograder_writes_zero_when_the_grader_cannot_even_start(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text(json.dumps({"score": 1000}))  # a forgery left behind
    script = root / "run_autograder"
    script.write_text(RUN_AUTOGRADER)
    script.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "GRADESCOPE_ROOT": str(root), "GRADESCOPE_PYTHON": "/bin/false"}
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(doc)
    assert doc["score"] == 0 and "exit code 1" in doc["output"]


FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for python3: logs each pip call; torch is not importable, setuptools is.
if [ "$1" = -c ] && [[ "$2" == *torch* ]]; then exit 1; fi
if [ "$1" = -m ] && [ "$2" = pip ]; then echo "$*" >> "$LOG"; fi
exit 0
"""


@pytest.mark.parametrize("wheels", [False, True])
def test_setup_sh_installs_cpu_torch_online_or_from_shipped_wheels(tmp_path, wheels):
    source = tmp_path / "source"
    (source / "kit").mkdir(parents=True)
    (source / "setup.sh").write_text(SETUP_SH)
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    if wheels:
        (source / "wheels").mkdir()
        (source / "wheels" / "torch-2.0-cp311-none-any.whl").write_bytes(b"")
    log = tmp_path / "pip.log"
    env = {"PATH": os.environ["PATH"], "GRADESCOPE_PYTHON": str(fake), "LOG": str(log)}
    done = subprocess.run(["bash", str(source / "setup.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    torch_call, kit_call = log.read_text().splitlines()
    if wheels:
        assert f"--no-index --find-links {source}/wheels torch" in torch_call
        assert "--no-index" in kit_call
    else:
        assert "torch --index-url https://download.pytorch.org/whl/cpu" in torch_call
        assert "--no-index" not in kit_call
    assert kit_call.endswith(f"-e {source}/kit") and "--no-build-isolation" in kit_call
