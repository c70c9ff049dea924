"""Hidden checks for exercise 6 (GPT-2 loading): instructor grading only, never in a kit."""

import functools
import importlib.util
import tempfile
from pathlib import Path

import pytest
import torch

from exercises.gpt2_loading import EXERCISE, TINY_CHECKPOINT, read_checkpoint, tiny_maker
from grader.compare import expect
from grader.remote import StudentError


@functools.lru_cache(maxsize=1)
def visible():
    """The visible check file as a module, for its helpers (check files are not a package)."""
    path = Path(EXERCISE.checks[0])
    spec = importlib.util.spec_from_file_location("_gpt2_loading_visible_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.hidden
@pytest.mark.points(2)
def test_other_sizes_and_layer_norm_epsilon(student, reference, generator):
    """Nothing hard-coded: 3 layers, 4 heads, width 48, 40 positions, 1000 tokens, eps 1e-3."""
    maker = tiny_maker()
    cfg = maker.TinyConfig(vocab_size=1000, n_positions=40, n_embd=48, n_layer=3, n_head=4, layer_norm_epsilon=1e-3)
    with tempfile.TemporaryDirectory(prefix="gpt2-other-size-") as tmp:
        folder = maker.write_checkpoint(Path(tmp), cfg, seed=7)
        ckpt = read_checkpoint(folder)
        idx = torch.randint(cfg.vocab_size, (2, 24), generator=generator)

        def logits(ns):
            return ns.gpt_from_hf(ckpt.config, ckpt.tensors)(idx)

        expected = logits(reference)
        mistakes = reference.diagnose(logits)
        model = visible().load(student, folder)
        visible().expect_state(model, ckpt, "load_gpt2 on a checkpoint with 3 layers, 4 heads and n_embd 48")
        visible().expect_output(model(idx), expected, "the logits of a 3-layer GPT with layer_norm_epsilon=1e-3",
                              mistakes, model, ckpt)
    read_checkpoint.cache_clear()  # the folder is gone


@pytest.mark.hidden
@pytest.mark.points(1)
def test_generate_batch_of_two(student, reference, generator):
    tiny = read_checkpoint(TINY_CHECKPOINT)
    idx = torch.randint(int(tiny.config["vocab_size"]), (2, 5), generator=generator)

    def continuation(ns):
        return ns.generate(ns.gpt_from_hf(tiny.config, tiny.tensors), idx, 8)

    expected = continuation(reference)
    mistakes = reference.diagnose(continuation)
    model = visible().load(student, tiny.folder)
    visible().expect_tokens(student.generate(model, idx, 8), expected, "generate(model, a batch of two prompts, 8)",
                          mistakes, model, int(tiny.config["n_positions"]))


@pytest.mark.hidden
@pytest.mark.points(1)
def test_missing_weights_file_is_a_file_not_found_error(student):
    config = (TINY_CHECKPOINT / "config.json").read_text()
    with tempfile.TemporaryDirectory(prefix="gpt2-no-weights-") as tmp:
        (Path(tmp) / "config.json").write_text(config)
        try:
            student.load_gpt2(tmp)
        except StudentError as exc:
            expect(exc.type_name == "FileNotFoundError",
                   f"load_gpt2 on a folder with config.json but no weights should raise FileNotFoundError, got: {exc}")
            return
    expect(False, "load_gpt2 on a folder with config.json but no weights file returned a model instead of raising FileNotFoundError")
