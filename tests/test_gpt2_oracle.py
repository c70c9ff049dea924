"""Independent oracle for the GPT-2 reference: Hugging Face transformers' ``GPT2LMHeadModel``.

A random GPT-2 is built with transformers (offline), written with ``save_pretrained``,
and loaded with the reference ``load_gpt2``: logits must agree within 1e-4 and greedy
generations must be identical. The same folder is then graded through the ``grade`` CLI
with the reference as the submission, and must earn full marks.

transformers 5.x writes only model.safetensors (``save_pretrained`` lost
``safe_serialization``); the ``pytorch_model.bin`` variant is written as 4.x wrote it with
``safe_serialization=False`` — ``torch.save`` of the model's state_dict beside config.json
— and transformers itself loads it back, which shows the layout is one it accepts.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: every model here is built locally
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
PROMPT_IDS = [15496, 11, 314, 716]  # "Hello, I am"
# The config fields that decide what a GPT-2 checkpoint computes.
ARCHITECTURE = (
    "model_type", "vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner",
    "activation_function", "layer_norm_epsilon", "tie_word_embeddings", "scale_attn_weights",
)  # fmt: skip


def reference():
    """solutions.gpt2_loading, whose ``from decoder_block import`` means the reference block."""
    sys.modules.setdefault("decoder_block", importlib.import_module("solutions.decoder_block"))
    return importlib.import_module("solutions.gpt2_loading")


def random_hf_gpt2(seed: int = 0):
    """A GPT2LMHeadModel with the real vocabulary, small width and every tensor random."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    config = GPT2Config(vocab_size=50257, n_positions=32, n_embd=48, n_layer=2, n_head=4, layer_norm_epsilon=1e-4)
    model = GPT2LMHeadModel(config).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Layer-norm gains near 1, everything else noise large enough to matter.
            mean = 1.0 if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")) else 0.0
            p.copy_(torch.randn(p.shape, generator=gen) * (0.1 if p.dim() == 1 or "wte" in name else 0.3) + mean)
    return model


@pytest.fixture(scope="module")
def hf_model():
    return random_hf_gpt2()


@pytest.fixture(scope="module")
def hf_dir(hf_model, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hf-gpt2")
    hf_model.save_pretrained(folder)
    return folder


def token_batch(vocab: int, T: int = 12) -> torch.Tensor:
    return torch.randint(vocab, (2, T), generator=torch.Generator().manual_seed(1))


def hf_greedy(model, idx: torch.Tensor, n: int) -> torch.Tensor:
    from transformers import GenerationConfig

    config = GenerationConfig(do_sample=False, max_new_tokens=n, min_new_tokens=n, eos_token_id=None, pad_token_id=0)
    with torch.no_grad():
        return model.generate(idx, attention_mask=torch.ones_like(idx), generation_config=config)


def test_save_pretrained_writes_the_layout_the_loader_expects(hf_dir):
    from safetensors import safe_open

    assert sorted(p.name for p in hf_dir.iterdir()) == ["config.json", "generation_config.json", "model.safetensors"]
    with safe_open(str(hf_dir / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        assert f.get_slice("transformer.h.0.attn.c_attn.weight").get_shape() == [48, 144]  # (in, out)
    assert "lm_head.weight" not in keys and "transformer.wte.weight" in keys


def test_reference_logits_match_transformers(hf_model, hf_dir):
    gpt = reference()
    ours = gpt.load_gpt2(hf_dir)
    idx = token_batch(50257)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf_model(idx).logits, rtol=0, atol=1e-4)
    assert ours.lm_head.weight is ours.wte.weight


def test_reference_greedy_generation_matches_transformers(hf_model, hf_dir):
    gpt = reference()
    idx = torch.tensor([PROMPT_IDS, [464, 2068, 7586, 21831]])  # two prompts, one batch
    ours = gpt.generate(gpt.load_gpt2(hf_dir), idx, 20)
    assert torch.equal(ours, hf_greedy(hf_model, idx, 20))


def test_pytorch_model_bin_variant(hf_model, hf_dir, tmp_path):
    from transformers import GPT2LMHeadModel

    shutil.copy(hf_dir / "config.json", tmp_path / "config.json")
    torch.save(hf_model.state_dict(), tmp_path / "pytorch_model.bin")
    assert not (tmp_path / "model.safetensors").exists()
    idx = token_batch(50257)
    with torch.no_grad():
        hf_back = GPT2LMHeadModel.from_pretrained(tmp_path).eval()  # transformers accepts this layout
        torch.testing.assert_close(hf_back(idx).logits, hf_model(idx).logits)
        gpt = reference()
        ours = gpt.load_gpt2(tmp_path)
        torch.testing.assert_close(ours(idx), hf_model(idx).logits, rtol=0, atol=1e-4)
    assert torch.equal(gpt.generate(ours, idx[:, :4], 12), hf_greedy(hf_model, idx[:, :4], 12))


def test_tiny_checkpoint_loads_in_transformers_and_agrees(tmp_path):
    """data/tiny-gpt2 is a checkpoint transformers reads, and the reference agrees with it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tiny = ROOT / "data" / "tiny-gpt2"
    hf = GPT2LMHeadModel.from_pretrained(tiny).eval()
    assert hf.lm_head.weight is hf.transformer.wte.weight
    gpt = reference()
    ours = gpt.load_gpt2(tiny)
    idx = token_batch(50257, T=16)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, rtol=0, atol=1e-4)
    prompt = torch.tensor([PROMPT_IDS])
    assert torch.equal(gpt.generate(ours, prompt, 20), hf_greedy(hf, prompt, 20))
    # save_pretrained of what transformers loaded writes the same tensors under the same names.
    hf.save_pretrained(tmp_path)
    from safetensors.torch import load_file

    again, stored = load_file(tmp_path / "model.safetensors"), load_file(tiny / "model.safetensors")
    assert again.keys() == stored.keys() and all(torch.equal(again[k], stored[k]) for k in stored)
    # Compare the architecture, not the file: each transformers release adds its own bookkeeping keys
    # (transformers_version, dtype vs torch_dtype, ...), so a byte-for-byte compare breaks on upgrades.
    written, shipped = GPT2Config.from_pretrained(tmp_path), GPT2Config.from_pretrained(tiny)
    assert {k: getattr(written, k) for k in ARCHITECTURE} == {k: getattr(shipped, k) for k in ARCHITECTURE}


def test_grade_cli_gives_the_reference_full_marks_on_a_transformers_checkpoint(hf_dir):
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(cli, [
        "exercise", "gpt2_loading", "--checkpoint", str(hf_dir),
        "--submission", str(ROOT / "solutions" / "gpt2_loading.py"), "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["max_score"] > 0 and doc["score"] == doc["max_score"], [c for c in doc["checks"] if c["status"] != "passed"]
