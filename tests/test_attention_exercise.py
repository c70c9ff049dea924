"""The attention exercise end to end: reference, stub, wrong and differently written submissions.

Grading runs go through the real grader (``grader.api`` and the ``grade`` CLI) and cost
about a second each, so each submission is graded once (``conftest.graded``) and its result
shared by the tests that read it. Most wrong submissions are ``textbook.py`` with one
mistake written in (submissions/attention/variants.py). The reference itself is checked
against an independent oracle, ``torch.nn.functional.scaled_dot_product_attention``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from conftest import SUBMISSIONS, submission_file
from conftest import graded as graded_submission
from grader.api import check_solutions
from grader.cli import cli
from grader.results import PASSED, ExerciseResult
from grader.runner import GradeOptions
from solutions import attention as ref

ATTENTION = SUBMISSIONS / "attention"
MISTAKES_FILE = Path(ref.__file__).with_name("attention_mistakes.py")

# file -> the start of the mistake name its failing checks must give
WRONG = {
    "no_scaling.py": "missing the 1/sqrt(d_k) scaling",
    "mask_after_softmax.py": "mask applied after softmax",
    "inverted_mask.py": "mask polarity inverted",
    "softmax_wrong_dim.py": "softmax over the wrong dimension",
    "heads_no_transpose.py": "heads split without transposing",
    "qkv_swapped.py": "c_attn output read as (k, q, v)",
}
# Mistakes that live in MultiHeadAttention only: every check of the function passes.
MODULE_ONLY = {"heads_no_transpose.py", "qkv_swapped.py"}
CORRECT = ["textbook.py", "einsum_head_loop.py", "baddbmm_manual_softmax.py"]


def graded(name: str) -> ExerciseResult:
    return graded_submission("attention", name)


def failures(result: ExerciseResult) -> dict[str, str]:
    return {c.name: c.message for c in result.checks if c.status != PASSED}


# ----------------------------------------------------------------------------- through the grader


def test_reference_solutions_earn_full_marks():
    [result] = check_solutions(["attention"], GradeOptions(device="cpu"))
    assert failures(result) == {}
    assert result.score == result.max_score >= 25
    assert sum(c.hidden for c in result.checks) >= 2  # the instructor-only checks ran too


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submission_gets_partial_score_naming_its_mistake(name):
    result = graded(name)
    assert 0 < result.score < result.max_score
    failed = failures(result)
    named = {check: msg.split("known mistake: ", 1)[1] for check, msg in failed.items() if "known mistake: " in msg}
    assert named, f"no failed check of {name} names a mistake: {failed}"
    for check, mistake in named.items():
        assert mistake.startswith(WRONG[name]), f"{name}: {check} names the wrong mistake: {mistake}"
    if name in MODULE_ONLY:
        assert all(check.startswith(("test_mha", "test_large", "test_deterministic")) for check in failed), failed
    else:
        # The function's mistake is named in the module checks too (the module uses it).
        assert any(check.startswith(("test_mha_output", "test_mha_causal_matches", "test_mha_padding")) for check in named)


@pytest.mark.parametrize("name", CORRECT)
def test_differently_written_correct_submission_earns_full_marks(name):
    result = graded(name)
    assert failures(result) == {}
    assert result.score == result.max_score


def test_cli_json_for_a_wrong_submission():
    res = CliRunner().invoke(
        cli, ["exercise", "attention", "--submission", str(submission_file("attention", "no_scaling.py")), "--device", "cpu", "--json"]
    )
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["exercise"] == "attention" and 0 < doc["score"] < doc["max_score"]
    by_name = {c["name"]: c for c in doc["checks"]}
    values = by_name["test_values_match_reference"]
    assert values["status"] == "failed" and values["points"] == 0 and values["max_points"] == 3
    assert "missing the 1/sqrt(d_k) scaling" in values["message"]
    assert by_name["test_mha_parameter_names_and_shapes"]["status"] == "passed"


# ----------------------------------------------------------------------------- the reference against an oracle


def _random_qkv(gen, batch, t_q, t_k, d_k, d_v):
    q = torch.randn(*batch, t_q, d_k, generator=gen, dtype=torch.float64)
    k = torch.randn(*batch, t_k, d_k, generator=gen, dtype=torch.float64)
    v = torch.randn(*batch, t_k, d_v, generator=gen, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("with_mask", [False, True], ids=["no mask", "mask"])
def test_reference_agrees_with_torch_sdpa(with_mask):
    gen = torch.Generator().manual_seed(1)
    for batch, t_q, t_k, d_k, d_v in [((), 5, 5, 8, 8), ((3,), 4, 7, 16, 5), ((2, 3), 6, 9, 4, 12)]:
        q, k, v = _random_qkv(gen, batch, t_q, t_k, d_k, d_v)
        mask = None
        if with_mask:
            mask = torch.rand(*batch, t_q, t_k, generator=gen) < 0.5
            mask[..., 0, :] = False  # a query with no key: zeros, in both
        want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        got, weights = ref.scaled_dot_product_attention(q, k, v, mask)
        torch.testing.assert_close(got, want)
        assert weights.shape == (*batch, t_q, t_k)
        if with_mask:
            assert (weights[~mask] == 0).all()
            assert (got[..., 0, :] == 0).all()


def test_reference_gradients_agree_with_torch_sdpa():
    gen = torch.Generator().manual_seed(2)
    q, k, v = (t.requires_grad_() for t in _random_qkv(gen, (2, 3), 4, 6, 8, 5))
    mask = torch.rand(2, 1, 4, 6, generator=gen) < 0.6
    mask[..., 0] = True
    g = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    want = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=mask), (q, k, v), g)
    got = torch.autograd.grad(ref.scaled_dot_product_attention(q, k, v, mask)[0], (q, k, v), g)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def _hand_built_mha(module: ref.MultiHeadAttention, x: torch.Tensor, mask=None, is_causal=False) -> torch.Tensor:
    B, T, C = x.shape
    nh = module.n_heads
    q, k, v = F.linear(x, module.c_attn.weight, module.c_attn.bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(B, T, nh, C // nh).permute(0, 2, 1, 3) for t in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
    return F.linear(y.permute(0, 2, 1, 3).reshape(B, T, C), module.c_proj.weight, module.c_proj.bias)


def test_reference_causal_mha_agrees_with_hand_built_sdpa():
    torch.manual_seed(3)
    module = ref.MultiHeadAttention(24, 3, causal=True).double()
    x = torch.randn(2, 7, 24, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(module(x), _hand_built_mha(module, x, is_causal=True))
        # A padding mask on top of the causal one.
        pad = (torch.arange(7) < torch.tensor([7, 4]).unsqueeze(1)).view(2, 1, 1, 7)
        both = pad & torch.ones(7, 7, dtype=torch.bool).tril()
        torch.testing.assert_close(module(x, pad), _hand_built_mha(module, x, mask=both))
        plain = ref.MultiHeadAttention(24, 3).double()
        plain.load_state_dict(module.state_dict())
        torch.testing.assert_close(plain(x), _hand_built_mha(module, x))


def test_reference_mha_has_gpt2_parameter_names():
    sd = ref.MultiHeadAttention(16, 4).state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == {
        "c_attn.weight": (48, 16), "c_attn.bias": (48,), "c_proj.weight": (16, 16), "c_proj.bias": (16,)
    }


# ----------------------------------------------------------------------------- the known mistakes


def _load_mistakes():
    # As in the worker: the mistakes module imports the reference as ``attention``.
    saved = sys.modules.get("attention")
    sys.modules["attention"] = ref
    try:
        spec = importlib.util.spec_from_file_location("attention_mistakes_under_test", MISTAKES_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.MISTAKES
    finally:
        if saved is None:
            sys.modules.pop("attention", None)
        else:
            sys.modules["attention"] = saved


def test_every_known_mistake_differs_from_the_reference():
    """A variant that equals the reference would be named for a correct submission's neighbours."""
    gen = torch.Generator().manual_seed(4)
    q, k, v = _random_qkv(gen, (2,), 4, 6, 8, 5)
    masks = [None, torch.rand(2, 4, 6, generator=gen) < 0.5]
    masks[1][:, 1, :] = False
    x = torch.randn(2, 6, 32, generator=gen, dtype=torch.float64)
    pad = (torch.arange(6) < torch.tensor([6, 3]).unsqueeze(1)).view(2, 1, 1, 6)
    torch.manual_seed(0)
    weights = ref.MultiHeadAttention(32, 4).double().state_dict()
    for name, overrides in _load_mistakes().items():
        differs = False
        if "scaled_dot_product_attention" in overrides:
            for mask in masks:
                want = ref.scaled_dot_product_attention(q, k, v, mask)[0]
                got = overrides["scaled_dot_product_attention"](q, k, v, mask)[0]
                differs |= not torch.allclose(got, want, equal_nan=True)
        if "MultiHeadAttention" in overrides:
            for causal in (False, True):
                right, wrong = ref.MultiHeadAttention(32, 4, causal).double(), overrides["MultiHeadAttention"](32, 4, causal).double()
                right.load_state_dict(weights)
                wrong.load_state_dict(weights)
                with torch.no_grad():
                    differs |= not torch.allclose(wrong(x, pad), right(x, pad), equal_nan=True)
        assert differs, f"the mistake {name!r} gives the reference's output"


def test_module_mistakes_differ_from_each_other_at_the_checked_sizes():
    """The MHA checks use sizes where sqrt(d_model), d_k and sqrt(d_k) differ (not (16, 4),
    where sqrt(16) == 4 == d_k): each module mistake has its own output there, so a
    submission scaling by sqrt(d_model) is not told it divided by d_k."""
    gen = torch.Generator().manual_seed(5)
    outputs = {}
    # A padding mask, with and without causal=True: the mask mistakes differ only so
    # (ignoring the mask and replacing it with the causal one agree once causal=True).
    mask = torch.ones(2, 1, 1, 5, dtype=torch.bool)
    mask[0, ..., -2:] = False
    for C, nh in ((32, 4), (24, 3)):
        x = torch.randn(2, 5, C, generator=gen, dtype=torch.float64)
        torch.manual_seed(0)
        weights = ref.MultiHeadAttention(C, nh).double().state_dict()
        for name, overrides in _load_mistakes().items():
            if "MultiHeadAttention" in overrides:
                for causal in (True, False):
                    module = overrides["MultiHeadAttention"](C, nh, causal).double()
                    module.load_state_dict(weights)
                    with torch.no_grad():
                        outputs.setdefault(name, []).append(module(x, mask).reshape(-1))
    flat = {name: torch.cat(outs) for name, outs in outputs.items()}
    names = list(flat)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not torch.allclose(flat[a], flat[b]), f"{a!r} and {b!r} give the same output"


def test_attention_may_import_the_students_own_softmax_and_every_command_agrees(tmp_path):
    """The handout: "You may use torch.softmax here (you wrote your own in exercise 1)". A
    folder's verdicts are the same whichever command grades it: each exercise's worker holds
    its own module and those it may import (ExerciseSpec.requires), never the whole folder."""
    import shutil

    from conftest import grade_file
    from grader.api import grade_exercises

    root = Path(__file__).resolve().parents[1]
    source = (root / "solutions" / "attention.py").read_text()
    assert "weights = torch.softmax(scores, dim=-1)" in source
    (tmp_path / "attention.py").write_text(
        source.replace("weights = torch.softmax(scores, dim=-1)", "from softmax import softmax\n\n    weights = softmax(scores, dim=-1)"))
    shutil.copy(root / "solutions" / "softmax.py", tmp_path)
    alone = grade_file("attention", tmp_path)
    assert alone.score == alone.max_score, [c.to_json() for c in alone.checks if c.points < c.max_points]
    # A module it may not import (positional_encoding imports nothing): the same failure in both.
    pe = (root / "solutions" / "positional_encoding.py").read_text()
    (tmp_path / "positional_encoding.py").write_text("import attention  # noqa\n" + pe)
    single = grade_file("positional_encoding", tmp_path)
    together = {r.exercise: r for r in grade_exercises(["softmax", "attention", "positional_encoding"], tmp_path)}
    assert together["attention"].score == alone.score
    assert single.score == together["positional_encoding"].score == 0
    assert "No module named 'attention'" in single.checks[0].message
    assert [c.message for c in single.checks] == [c.message for c in together["positional_encoding"].checks]
