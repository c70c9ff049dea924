"""The gpt2_loading exercise: reference, stub, wrong submissions, a broken block, the tiny checkpoint."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, SUBMISSIONS, check_named, grade_file
from grader.results import PASSED
from submissions.gpt2_loading.variants import write_variant

GPT2 = SUBMISSIONS / "gpt2_loading"
TINY = ROOT / "data" / "tiny-gpt2"
WEIGHT_CHECKS = (
    "test_loaded_weights_match_checkpoint",
    "test_hub_layout_without_prefix_with_mask_buffers",
    "test_checkpoint_with_lm_head_weight",
    "test_pytorch_model_bin",
)


def submission(tmp_path: Path, gpt2_loading: Path, decoder_block: Path = ROOT / "solutions" / "decoder_block.py") -> Path:
    """A student's folder: their gpt2_loading.py and the decoder_block.py it imports."""
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copy(gpt2_loading, folder / "gpt2_loading.py")
    shutil.copy(decoder_block, folder / "decoder_block.py")
    return folder


def reference():
    """solutions.gpt2_loading, whose ``from decoder_block import`` means the reference block."""
    import importlib

    sys.modules.setdefault("decoder_block", importlib.import_module("solutions.decoder_block"))
    return importlib.import_module("solutions.gpt2_loading")


def failures(result) -> list:
    return [c.to_json() for c in result.checks if c.status != PASSED]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("no_transpose.py", {
            "test_loaded_weights_match_checkpoint": "h.0.attn.c_proj.weight holds the checkpoint's transformer.h.0.attn.c_proj.weight without the transpose",
            "test_logits_match_reference": "known mistake: Conv1D weights not transposed",
        }),
        ("untied.py", {
            "test_lm_head_tied_to_wte": "does not tie lm_head to wte",
            "test_logits_match_reference": "lm_head is not tied to wte",
        }),
        # The same data, two Parameters: equal data_ptr, trained apart.
        ("tied_by_data.py", {"test_lm_head_tied_to_wte": "sharing the data (.data = ...) leaves two Parameters"}),
        ("no_wpe.py", {
            "test_logits_match_reference": "known mistake: position embeddings (wpe) not added",
            "test_greedy_generation_matches_reference": "known mistake: position embeddings (wpe) not added",
        }),
        ("no_crop.py", {
            "test_generate_crops_to_n_positions": "Feed the model only the last n_positions tokens",
        }),
        # generate crops; forward is what fails on a full context: the hint says so, not "crop".
        ("positions_from_one.py", {
            "test_generate_crops_to_n_positions": "Your model itself fails on a context of exactly n_positions=",
        }),
        ("not_eval.py", {"test_loaded_weights_match_checkpoint": "returned the model in training mode"}),
    ],
    ids=["no_transpose", "untied", "tied_by_data", "no_wpe", "no_crop", "positions_from_one", "not_eval"],
)
def test_wrong_submissions_get_partial_scores_and_named_mistakes(tmp_path, name, expected):
    result = grade_file("gpt2_loading", submission(tmp_path, write_variant(tmp_path, name)), include_hidden=False)
    assert 0 < result.score < result.max_score, result.to_json()
    for check, message in expected.items():
        failing = check_named(result, check)
        assert failing.status == "failed", failing
        assert message in failing.message, failing.message
    if name not in ("no_transpose.py", "not_eval.py"):  # one mistake in the model or generate: the loading checks pass
        for check in WEIGHT_CHECKS:
            assert check_named(result, check).status == PASSED, failures(result)


def test_correct_loader_with_a_broken_block_keeps_the_weight_checks(tmp_path):
    """Exact GELU in the student's block: loading is right, running is not, and the message says why."""
    folder = submission(tmp_path, ROOT / "solutions" / "gpt2_loading.py", GPT2 / "decoder_block_exact_gelu.py")
    result = grade_file("gpt2_loading", folder, include_hidden=False)
    for name in (*WEIGHT_CHECKS, "test_lm_head_tied_to_wte"):
        assert check_named(result, name).status == PASSED, failures(result)
    logits = check_named(result, "test_logits_match_reference")
    assert logits.status == "failed"
    assert "known mistake: exact (erf) GELU" in logits.message, logits.message


def test_differently_written_single_file_gets_full_marks_with_the_block_beside_it(tmp_path):
    """A single .py submission: the decoder_block.py in its folder is the block it imports."""
    folder = submission(tmp_path, GPT2 / "copy_loop.py")
    result = grade_file("gpt2_loading", folder / "gpt2_loading.py")
    assert result.score == result.max_score, failures(result)


def test_mistake_variants_differ_from_the_reference_and_each_other():
    """Each known mistake changes the logits of the tiny checkpoint, so a check can tell them apart."""
    import importlib.util

    from exercises.gpt2_loading import read_checkpoint

    gpt = reference()
    spec = importlib.util.spec_from_file_location("gpt2_loading_mistakes", ROOT / "solutions" / "gpt2_loading_mistakes.py")
    mistakes = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gpt2_loading", gpt)  # the worker imports the solution under this name
    spec.loader.exec_module(mistakes)
    ckpt = read_checkpoint(TINY)
    idx = torch.randint(50257, (1, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = {"reference": gpt.gpt_from_hf(ckpt.config, ckpt.tensors)(idx)}
        outputs.update({name: v["gpt_from_hf"](ckpt.config, ckpt.tensors)(idx) for name, v in mistakes.MISTAKES.items()})
    assert len(outputs) == 6
    names = list(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not torch.allclose(outputs[a], outputs[b], rtol=1e-4, atol=1e-5), (a, b)


# --------------------------------------------------------------------------- the data


def test_tiny_checkpoint_is_reproducible_from_its_script(tmp_path):
    from safetensors.torch import load_file

    from exercises.gpt2_loading import tiny_maker

    tiny_maker().main([str(tmp_path)])  # what `python data/make_tiny_gpt2.py DIR` runs
    assert (tmp_path / "config.json").read_text() == (TINY / "config.json").read_text()
    assert (tmp_path / "generation_config.json").read_text() == (TINY / "generation_config.json").read_text()
    fresh, stored = load_file(tmp_path / "model.safetensors"), load_file(TINY / "model.safetensors")
    assert fresh.keys() == stored.keys()
    assert all(torch.equal(fresh[k], stored[k]) for k in fresh)


def test_tiny_checkpoint_has_the_hugging_face_layout():
    from safetensors import safe_open

    config = json.loads((TINY / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert config["activation_function"] == "gelu_new" and config["vocab_size"] == 50257
    assert (TINY / "model.safetensors").stat().st_size < 8 * 1024**2
    with safe_open(str(TINY / "model.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
        keys = set(f.keys())
        assert f.get_slice("transformer.h.0.attn.c_attn.weight").get_shape() == [config["n_embd"], 3 * config["n_embd"]]
        assert f.get_slice("transformer.h.1.mlp.c_proj.weight").get_shape() == [4 * config["n_embd"], config["n_embd"]]
    assert all(k.startswith("transformer.") for k in keys)
    assert "lm_head.weight" not in keys and not any(k.endswith(".attn.bias") for k in keys)
    assert len(keys) == 4 + 12 * config["n_layer"]


def test_tiny_checkpoint_generates_varied_text():
    """Greedy generation from the random weights moves on instead of repeating a token."""
    from grader.data import gpt2_tokenizer

    ids = gpt2_tokenizer().encode("Hello, I am").ids
    assert ids == [15496, 11, 314, 716]
    gpt = reference()
    out = gpt.generate(gpt.load_gpt2(TINY), torch.tensor([ids]), 20)[0, 4:].tolist()
    assert len(set(out)) >= 12, out


def test_decoder_block_still_the_stub_is_named_instead_of_load_gpt2(tmp_path):
    """A correct loader beside the decoder_block stub: the message names the stub, not load_gpt2."""
    folder = submission(tmp_path, ROOT / "solutions" / "gpt2_loading.py", ROOT / "exercises" / "decoder_block" / "decoder_block.py")
    result = grade_file("gpt2_loading", folder, include_hidden=False)
    failed = [c for c in result.checks if c.status != PASSED]
    assert failed, result.to_json()
    for check in failed:
        assert check.message.startswith("your decoder_block.py is not implemented yet"), check.message
        assert "DecoderBlock.__init__" in check.message and "[at decoder_block.py, line" in check.message
        assert "load_gpt2 is not implemented" not in check.message and "GPT is not implemented" not in check.message
    # One line in the table's notes: the stub, for every check it stopped.
    from grader.display import group_messages

    _, notes = group_messages(result)
    assert [n.not_implemented for n in notes] == ["your decoder_block.py"]


@pytest.mark.parametrize(
    "edit, expected, not_expected",
    [
        # Still the stub: no advice about contexts for code not written yet.
        (("        idx_cond = idx[:, -model.config.n_positions :]", "        raise NotImplementedError('generate')\n" + " " * 8 + "idx_cond = idx"),
         "generate is not implemented yet", "n_positions tokens"),
        # The whole (cropped) context, but the first position's logits: where one context cannot tell
        # that from "only the newest token", the hint names both fixes, not the one it already does.
        (("logits[:, -1, :].argmax", "logits[:, 0, :].argmax"), "logits[:, -1, :]", None),
    ],
    ids=["stub", "first_position"],
)
def test_generate_hints_fit_what_generate_does(tmp_path, edit, expected, not_expected):
    source = (ROOT / "solutions" / "gpt2_loading.py").read_text()
    assert edit[0] in source
    (tmp_path / "gpt2_loading.py").write_text(source.replace(edit[0], edit[1]))
    result = grade_file("gpt2_loading", submission(tmp_path, tmp_path / "gpt2_loading.py"), include_hidden=False)
    crops = check_named(result, "test_generate_crops_to_n_positions")
    assert crops.status == "failed" and expected in crops.message, crops.message
    if not_expected:
        assert not_expected not in crops.message, crops.message
