"""The GPU lane: grading on CUDA gives the CPU's verdicts, and a GPU shared by a batch holds.

Every test here is marked ``gpu`` and skipped where torch sees no CUDA device, so the
ordinary suite runs it nowhere but on a machine with a GPU. ``benchmarks/gpu_lane.sh``
runs this file (and times a CUDA batch) on such a machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import grade_file, submission_file
from grader.registry import load_registry

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

ROOT = Path(__file__).resolve().parents[1]

# Correct and wrong attempts whose verdicts must not depend on the device.
ATTEMPTS = {
    "softmax": ["logsumexp.py", "no_max.py", "wrong_dim.py", "detached.py", "global_norm.py", "in_place.py", "float32_always.py"],
    "attention": ["no_scaling.py", "inverted_mask.py", "qkv_swapped.py", "mask_after_softmax.py", "softmax_wrong_dim.py",
                  "einsum_head_loop.py"],
    "decoder_block": ["not_causal.py", "manual_layernorm.py", "sequential_mlp.py"],
}  # fmt: skip

# Allocates a fifth of the card in one call: more than a worker's share (Limits.gpu_memory_fraction).
GREEDY_SOFTMAX = """
import torch


def softmax(x, dim=-1):
    total = torch.cuda.get_device_properties(x.device).total_memory
    hog = torch.empty(int(total * 0.2) // 4, dtype=torch.float32, device=x.device)
    x = x - x.amax(dim=dim, keepdim=True)
    e = x.exp()
    return e / e.sum(dim=dim, keepdim=True) + 0 * hog[0]
"""


def verdicts(result) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


@pytest.mark.parametrize("exercise", [spec.name for spec in load_registry().ordered()])
def test_reference_earns_full_marks_on_cuda(exercise):
    from grader.api import check_solutions
    from grader.runner import GradeOptions

    [result] = check_solutions([exercise], GradeOptions(device="cuda"))
    assert result.device == "cuda"
    failing = [(c.name, c.message) for c in result.checks if c.status != "passed"]
    assert not failing, failing


@pytest.mark.parametrize("exercise,name", [(e, n) for e, names in ATTEMPTS.items() for n in names])
def test_verdicts_on_cuda_match_the_cpu(exercise, name):
    path = submission_file(exercise, name)
    on_cpu = grade_file(exercise, path, device="cpu")
    on_cuda = grade_file(exercise, path, device="cuda")
    assert on_cuda.device == "cuda"
    assert verdicts(on_cuda) == verdicts(on_cpu)
    assert on_cuda.score == on_cpu.score


def test_a_student_who_takes_the_card_fails_alone_with_a_clear_message(tmp_path):
    greedy = tmp_path / "softmax.py"
    greedy.write_text(GREEDY_SOFTMAX)
    result = grade_file("softmax", greedy, device="cuda")
    failed = [c for c in result.checks if c.status == "failed"]
    assert failed, verdicts(result)
    assert any("ran out of GPU memory" in c.message for c in failed), [c.message for c in failed]
    # The grader itself is fine: no check is the grader's error.
    assert not [c for c in result.checks if c.status == "error"], [(c.name, c.message) for c in result.checks]
    # And the next student on the same zygote is graded normally.
    after = grade_file("softmax", ROOT / "solutions" / "softmax.py", device="cuda")
    assert after.score == after.max_score


def test_cuda_is_initialised_only_in_workers(monkeypatch):
    """A slot forks a process per submission and its zygote forks workers: neither may hold
    a CUDA context (a forked child could not use CUDA)."""
    import grader.zygote
    from grader.batch.slot import Slot

    # A slot makes its zygote the process's default; the next tests get theirs back.
    monkeypatch.setattr(grader.zygote, "_default", grader.zygote._default)
    slot = Slot()
    try:
        assert not torch.cuda.is_initialized()
        probe = slot.zygote._ask({"op": "import", "modules": []})
        assert probe == {"failed": {}}
    finally:
        slot.zygote.close()


def test_a_cuda_batch_gives_the_cpu_scores(tmp_path):
    from batch_fixtures.make_class import make_pair_class

    from grader.batch.run import BatchOptions, run_batch
    from grader.registry import load_registry

    specs = [s for s in load_registry().ordered() if s.name in ("softmax", "attention")]
    make_pair_class(tmp_path / "subs", 8, specs)
    scores = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        run_batch(BatchOptions(tmp_path / "subs", out, exercises=["softmax", "attention"], workers=2, device=device, seed=7))
        scores[device] = {
            d.name: json.loads((d / "results.json").read_text())["score"] for d in sorted((out / "students").iterdir())
        }
    assert scores["cuda"] == scores["cpu"]
