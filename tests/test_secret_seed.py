"""Instructor grading draws its inputs from a secret seed no student kit has recorded.

A kit replays the reference's replies recorded for seed 0. These tests build such a kit,
turn its recording into a submission that answers softmax by looking its input up in
that table (implementing nothing), and check that under the instructor's secret seeds it
earns no more than the stub; that the reference still gets full marks under several
secret seeds; that ``grade batch`` gives each student a seed of their own, stores it and
regrades on ``--resume`` when it changes; and that ``grade release`` refuses to record a
seed grading may use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, SUBMISSIONS
from grader.secret import KIT_SEEDS, SECRET_ENV, SECRET_FILE, derive_seed, grading_secret, recordable

# Three installs' secrets: the properties below must hold whatever the secret is.
SECRETS = ("first install", "second install", "third install")
GRADING_SEEDS = [derive_seed(s.encode(), "exercise") for s in SECRETS]


def _specs(*names: str):
    from grader.registry import load_registry

    registry = load_registry()
    return [registry.get(n) for n in names]


# --------------------------------------------------------------------------- the secret


def test_derived_seeds_are_never_ones_a_kit_records():
    seeds = [derive_seed(s.encode(), label) for s in SECRETS for label in ("exercise", "student:alice", "student:bob")]
    assert all(KIT_SEEDS <= seed < 2**31 for seed in seeds)
    assert len(set(seeds)) == len(seeds)
    assert not any(recordable(seed) for seed in seeds)
    assert recordable(0) and recordable(KIT_SEEDS - 1) and not recordable(-1)


def test_secret_file_is_made_once_beside_the_solutions_and_env_overrides_it(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    (spec,) = _specs("softmax")
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    shutil.copyfile(spec.solution, solutions / "softmax.py")
    moved = dataclasses.replace(spec, solution=solutions / "softmax.py")
    first = grading_secret([moved])
    assert (solutions / SECRET_FILE).is_file() and len(first) >= 32
    assert (solutions / SECRET_FILE).stat().st_mode & 0o077 == 0  # only the instructor reads it
    assert grading_secret([moved]) == first  # made once, then read
    monkeypatch.setenv(SECRET_ENV, "from the environment")
    assert grading_secret([moved]) == b"from the environment"
    assert ".grading_secret" in (ROOT / ".gitignore").read_text()  # every clone makes its own


def test_a_kit_has_no_secret_and_grades_with_seed_0():
    from grader.secret import batch_seeds, default_seed

    kit_specs = [dataclasses.replace(s, solution=None) for s in _specs("softmax", "attention")]
    assert default_seed(kit_specs) == 0
    assert batch_seeds(kit_specs, "any batch") == 0


# --------------------------------------------------------------------------- the reference


def test_reference_gets_full_marks_under_several_secret_seeds():
    from grader.api import check_solutions
    from grader.runner import GradeOptions

    for seed in GRADING_SEEDS:
        for result in check_solutions(options=GradeOptions(device="cpu", seed=seed)):
            failing = [f"{c.name}: {c.message}" for c in result.checks if c.status != "passed"]
            assert result.score == result.max_score, (seed, result.exercise, failing)
            assert result.to_json()["seed"] == seed


@pytest.mark.parametrize("name", ["logsumexp.py", "loops.py", "einsum.py"])
def test_correct_softmax_variants_get_full_marks_under_secret_seeds(name):
    # Checks whose inputs now vary (large inputs) must not make a correct answer depend on luck.
    from conftest import grade_file

    for seed in GRADING_SEEDS:
        result = grade_file("softmax", SUBMISSIONS / "softmax" / name, seed=seed, device="cpu")
        assert result.score == result.max_score, (seed, [c.to_json() for c in result.checks if c.status != "passed"])


# --------------------------------------------------------------------------- grade release


@pytest.mark.parametrize("seed", [GRADING_SEEDS[0], KIT_SEEDS, -1])
def test_release_refuses_to_record_a_grading_seed(tmp_path, seed):
    from grader.cli import cli

    result = CliRunner().invoke(cli, ["release", str(tmp_path / "kit"), "--no-verify", "--seed", str(seed)])
    assert result.exit_code == 2, result.output
    assert f"--seed {seed} cannot be recorded" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "kit").exists()


# --------------------------------------------------------------------------- the replay attack

_REPLAY = '''"""Implements nothing: answers softmax from a student kit's recorded reference replies."""
import hashlib

import torch

TABLE = {table!r}


def _key(x, dim):
    x = x.detach().contiguous()
    return hashlib.sha256(f"{{x.dtype}}|{{tuple(x.shape)}}|{{dim}}|".encode() + x.numpy().tobytes()).hexdigest()


def softmax(x, dim=-1):
    found = TABLE.get(_key(x, dim))
    if found is None:
        raise NotImplementedError("not in the kit's recording")
    dtype, shape, values = found
    return torch.tensor(values, dtype=getattr(torch, dtype)).reshape(shape)
'''


def _input_key(x, dim: int) -> str:
    x = x.detach().contiguous()
    return hashlib.sha256(f"{x.dtype}|{tuple(x.shape)}|{dim}|".encode() + x.numpy().tobytes()).hexdigest()


class _Harvest:
    """Wraps the kit's replay transport; notes (softmax input -> recorded reply) as the kit's checks run."""

    role = "reference"
    eager_diagnose = True

    def __init__(self, inner, table: dict):
        self.inner, self.table, self.subject = inner, table, inner.subject

    def roundtrip(self, key, doc, blob):
        from grader import wire
        from grader.boundary import ROOT_MODULE

        reply, reply_blob = self.inner.roundtrip(key, doc, blob)
        target = doc.get("target", {})
        if doc.get("op") == "call" and target.get("root") == ROOT_MODULE and target.get("path") == ["softmax"]:
            args = wire.Decoder(blob, lambda h: None, layouts=True).decode(doc["args"])
            kwargs = wire.Decoder(blob, lambda h: None, layouts=True).decode(doc["kwargs"])
            dim = kwargs.get("dim", args[1] if len(args) > 1 else -1)
            out = wire.Decoder(reply_blob, lambda h: None).decode(reply["ok"])
            self.table[_input_key(args[0], dim)] = (str(out.dtype).removeprefix("torch."), list(out.shape), out.tolist())
        return reply, reply_blob

    def mistakes(self):
        return self.inner.mistakes()

    def close(self):
        self.inner.close()


@pytest.fixture(scope="module")
def replay_submission(tmp_path_factory) -> Path:
    """softmax.py built from a real kit's recording, as an adversarial student would."""
    from grader.release import build_kit
    from grader.release.kit import _kit_spec
    from grader.replay import Recording, ReplayTransport, recording_paths
    from grader.runner import GradeOptions, grade
    from grader.submission import from_solutions

    root = tmp_path_factory.mktemp("replay")
    build_kit(root / "kit", ["softmax"], verify=False, mistakes=0)
    (spec,) = _specs("softmax")
    kit_spec = _kit_spec(spec, root / "kit")
    recording = Recording.load(recording_paths(kit_spec)[0])
    assert recording.seeds == {0}
    table: dict = {}

    def harvest(spec, config):
        return _Harvest(ReplayTransport(recording, "the recorded softmax", seed=0, device="cpu"), table)

    # The kit's own checks at the kit's seed rebuild the recorded inputs. The student side
    # only has to get past each comparison (an attacker would use torch.softmax).
    grade([kit_spec], from_solutions([kit_spec]), GradeOptions(device="cpu", seed=0, include_hidden=False,
                                                          reference_transport=harvest))  # fmt: skip
    assert len(table) >= 5, "the kit's recording should answer several softmax inputs"
    out = root / "student"
    out.mkdir()
    (out / "softmax.py").write_text(_REPLAY.format(table=table))
    return out / "softmax.py"


def _score(path: Path, seed: int) -> float:
    from conftest import grade_file

    return grade_file("softmax", path, seed=seed, device="cpu").score


def test_replaying_a_kit_recording_earns_nothing_under_a_secret_seed(replay_submission):
    stub = ROOT / "exercises" / "softmax" / "softmax.py"
    # The attack is real: at the seed the kit recorded, the table answers checks.
    assert _score(replay_submission, 0) > _score(stub, 0)
    for seed in GRADING_SEEDS[:2]:
        assert _score(replay_submission, seed) <= _score(stub, seed), seed


# --------------------------------------------------------------------------- grade batch


def _journal(out: Path) -> dict[str, dict]:
    lines = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()]
    return {doc["id"]: doc for doc in lines}


def test_a_batch_draws_its_own_seed_stores_it_and_resume_follows_the_secret(tmp_path, monkeypatch):
    from grader.batch.run import NONCE, BatchOptions, run_batch

    subs = tmp_path / "subs"
    for student, source in (("alice", ROOT / "solutions" / "softmax.py"), ("bob", ROOT / "exercises" / "softmax" / "softmax.py")):
        (subs / student).mkdir(parents=True)
        shutil.copyfile(source, subs / student / "softmax.py")
    out = tmp_path / "out"
    options = BatchOptions(subs, out, exercises=["softmax"], workers=1, call_timeout=10)

    monkeypatch.setenv(SECRET_ENV, SECRETS[0])
    first = run_batch(options)
    assert first.graded_now == 2
    journal = _journal(out)
    nonce = (out / NONCE).read_text().strip()
    seed = derive_seed(SECRETS[0].encode(), f"batch:{nonce}")
    # One seed for the class (the reference's replies are shared), never one a kit records.
    assert {doc["seed"] for doc in journal.values()} == {seed} and seed >= KIT_SEEDS
    assert journal["alice"]["exercises"][0]["score"] == journal["alice"]["exercises"][0]["max_score"]
    for sid in ("alice", "bob"):  # what the student and the instructor read later
        (doc,) = json.loads((out / "students" / sid / "result.json").read_text())
        assert doc["seed"] == seed

    # Same secret, same RESULTS: nothing to redo. Another secret: another seed, all graded again.
    assert run_batch(dataclasses.replace(options, resume=True)).graded_now == 0
    monkeypatch.setenv(SECRET_ENV, SECRETS[1])
    again = run_batch(dataclasses.replace(options, resume=True))
    assert again.graded_now == 2
    assert {doc["seed"] for doc in _journal(out).values()} == {derive_seed(SECRETS[1].encode(), f"batch:{nonce}")}
    # Another batch (a fresh RESULTS) asks other questions.
    other = tmp_path / "other"
    run_batch(dataclasses.replace(options, out=other))
    assert (other / NONCE).read_text().strip() != nonce
    assert {doc["seed"] for doc in _journal(other).values()} != {doc["seed"] for doc in _journal(out).values()}
    # An explicit --seed is one seed for everyone, and reproducible.
    fixed = run_batch(dataclasses.replace(options, resume=True, seed=7))
    assert fixed.graded_now == 2 and {doc["seed"] for doc in _journal(out).values()} == {7}
