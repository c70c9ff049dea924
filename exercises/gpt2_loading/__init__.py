"""Exercise 6: load a GPT-2 checkpoint in the Hugging Face layout into your own model, and generate.

Besides the exercise's description, this module holds what its checks need on the trusted
side (checks never import solution code):

- where the checkpoint is: ``--checkpoint DIR`` / ``GRADER_GPT2_CHECKPOINT`` (the
  ``settings`` fixture), else the tiny one in ``data/tiny-gpt2`` (``data/make_tiny_gpt2.py``);
- reading it (safetensors, or ``torch.load(weights_only=True)`` for a .bin);
- the state_dict a correct loader must produce, worked out here from the file itself;
- copies of a checkpoint in the other layouts met in the wild (no ``transformer.`` prefix
  with mask buffers, as the Hub's ``gpt2``; an explicit ``lm_head.weight``; a
  ``pytorch_model.bin``).

torch is imported inside the functions: ``grade list`` imports every exercise and must stay fast.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from exercises import DATA_DIR, course_exercise

EXERCISE = course_exercise(
    "gpt2_loading",
    "Loading GPT-2 checkpoints and generating text",
    order=6,
    section="6. Loading pretrained GPT-2 weights",
    data=("tiny-gpt2", "gpt2_tokenizer"),
    # The GPT is built from the student's own DecoderBlock (exercise 4).
    requires=("decoder_block",),
    check_preloads=("grader.data:shared_gpt2_tokenizer", "exercises.gpt2_loading:read_tiny_checkpoint"),
)

TINY_CHECKPOINT = DATA_DIR / "tiny-gpt2"
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
PREFIX = "transformer."


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as stored, and what a correct loader puts into ``GPT.state_dict()``."""

    folder: Path
    config: dict  # config.json
    tensors: dict  # stored name -> tensor, as in the file (HF names and layouts)
    # GPT parameter name -> the tensor it must hold after loading. lm_head.weight is not
    # here: it is wte.weight itself (tying), which test_lm_head_tied_to_wte checks.
    expected: dict
    sources: dict  # GPT parameter name -> the stored name it comes from
    transposed: frozenset  # GPT parameter names that hold a transposed Conv1D weight


def checkpoint_folder(settings: Mapping[str, str]) -> Path:
    """The checkpoint to grade on: ``--checkpoint`` if given, else the tiny one."""
    return Path(settings.get("checkpoint") or TINY_CHECKPOINT)


def read_tensors(folder: Path) -> dict:
    import torch

    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{folder}: neither model.safetensors nor pytorch_model.bin")


@functools.lru_cache(maxsize=2)
def read_checkpoint(folder: str | Path) -> Checkpoint:
    """Read a Hugging Face GPT-2 folder (cached: checks must not modify the tensors)."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    tensors = read_tensors(folder)
    expected, sources, transposed = {}, {}, set()
    for key, value in tensors.items():
        name = key.removeprefix(PREFIX)
        if MASK_BUFFER.match(name) or name == "lm_head.weight":
            continue
        if name.endswith(CONV1D_WEIGHTS):
            value = value.t()
            transposed.add(name)
        # A GPT's parameters are float32 whatever the file stores; load_state_dict casts.
        expected[name] = value.float().contiguous() if value.is_floating_point() else value
        sources[name] = key
    return Checkpoint(folder, config, tensors, expected, sources, frozenset(transposed))


def read_tiny_checkpoint() -> Checkpoint:
    """The course's tiny checkpoint, read (and cached) as the checks read it."""
    return read_checkpoint(TINY_CHECKPOINT)


def tiny_maker():
    """data/make_tiny_gpt2.py as a module (it writes checkpoints of any size from a seed)."""
    import importlib.util
    import sys

    name = "_grader_make_tiny_gpt2"
    if name not in sys.modules:
        # The maker is code that ships with the course, wherever GRADER_DATA_DIR points.
        from grader.data import REPO_DATA_DIR

        spec = importlib.util.spec_from_file_location(name, REPO_DATA_DIR / "make_tiny_gpt2.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return sys.modules[name]


def write_variant(
    checkpoint: Checkpoint,
    out_dir: Path,
    *,
    prefix: bool = True,
    mask_buffers: bool = False,
    lm_head: bool = False,
    fmt: str = "safetensors",
) -> Path:
    """Write ``checkpoint`` again in another layout; returns ``out_dir``.

    ``prefix``: keys start with ``transformer.``; ``mask_buffers``: each block carries
    ``attn.bias`` (the causal mask) and ``attn.masked_bias`` as old files do;
    ``lm_head``: ``lm_head.weight`` is stored (a copy of wte); ``fmt``: ``"safetensors"``
    (model.safetensors) or ``"bin"`` (pytorch_model.bin, via torch.save).
    """
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(checkpoint.config, indent=2, sort_keys=True) + "\n")
    n_pos, n_layer = int(checkpoint.config["n_positions"]), int(checkpoint.config["n_layer"])
    head = PREFIX if prefix else ""
    state: dict[str, Any] = {}
    for key, value in checkpoint.tensors.items():
        name = key.removeprefix(PREFIX)
        if MASK_BUFFER.match(name) or name == "lm_head.weight":
            continue
        state[head + name] = value.clone()
        if mask_buffers and name.endswith("attn.c_proj.bias"):
            block = name.removesuffix(".c_proj.bias")
            state[head + block + ".bias"] = torch.ones(n_pos, n_pos).tril().view(1, 1, n_pos, n_pos)
            state[head + block + ".masked_bias"] = torch.tensor(-1e4)
    if lm_head:
        state["lm_head.weight"] = state[head + "wte.weight"].clone()
    assert not mask_buffers or sum(k.endswith("attn.masked_bias") for k in state) == n_layer
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    elif fmt == "bin":
        torch.save(state, out_dir / "pytorch_model.bin")
    else:
        raise ValueError(f"unknown checkpoint format {fmt!r}")
    return out_dir
