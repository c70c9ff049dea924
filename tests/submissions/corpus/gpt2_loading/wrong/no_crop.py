"""A student attempt, based on a finished exercise: GPT-2 built from our decoder blocks, a loader for Hugging Face checkpoints, greedy generation.

Follows Radford et al. (2019), "Language Models are Unsupervised Multitask Learners", and
the Hugging Face ``GPT2LMHeadModel`` checkpoint layout:

- keys ``transformer.wte.weight``, ``transformer.h.0.attn.c_attn.weight``, ...,
  ``transformer.ln_f.weight`` (older files, like the ``gpt2`` one on the Hub, have no
  ``transformer.`` prefix);
- the four projections of each block are ``Conv1D`` layers whose weights are stored
  (in, out) (``y = x @ W + b``); ``nn.Linear`` keeps (out, in), so they are transposed;
- ``attn.bias`` / ``attn.masked_bias`` are saved causal-mask buffers, not weights;
- ``lm_head.weight`` is tied to ``wte.weight`` and usually not stored at all.

Besides the handout's interface (``GPTConfig``, ``GPT``, ``load_gpt2``, ``generate``) the
reference exposes :func:`gpt_from_hf`, which builds the model from a config document and
tensors already in memory. The checks use it to get reference outputs from data (never
from a path), so that a recorded reference replays anywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from decoder_block import DecoderBlock

# The Conv1D weights of a block: stored (in, out), nn.Linear wants (out, in).
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# Causal-mask buffers some checkpoints carry: constants, not weights.
MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")


@dataclass
class GPTConfig:
    vocab_size: int = 50257  # GPT-2's byte-level BPE vocabulary
    n_positions: int = 1024  # longest context: the rows of wpe
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    layer_norm_epsilon: float = 1e-5


class GPT(nn.Module):
    """GPT-2: token + position embeddings, ``n_layer`` decoder blocks, final LayerNorm, tied LM head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        C = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, C)
        self.wpe = nn.Embedding(config.n_positions, C)
        # Inference only: no dropout anywhere.
        self.h = nn.ModuleList(
            DecoderBlock(C, config.n_head, dropout=0.0, layer_norm_eps=config.layer_norm_epsilon)
            for _ in range(config.n_layer)
        )
        self.ln_f = nn.LayerNorm(C, eps=config.layer_norm_epsilon)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        # Weight tying: the output projection is the token embedding (one Parameter).
        self.lm_head.weight = self.wte.weight

    def forward(self, idx: Tensor) -> Tensor:
        B, T = idx.size()
        if T > self.config.n_positions:
            raise ValueError(f"sequence of length {T} is longer than n_positions={self.config.n_positions}")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.h:
            x = block(x)  # (B, T, C)
        x = self.ln_f(x)
        return self.lm_head(x)  # (B, T, vocab_size)


# --------------------------------------------------------------------------- loading


def config_from_hf(doc: dict) -> GPTConfig:
    """A GPTConfig from the fields of a Hugging Face GPT-2 ``config.json``."""
    if doc.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"config.json describes a {doc.get('model_type')!r} model, not GPT-2")
    if doc.get("n_inner") not in (None, 4 * doc["n_embd"]):
        raise ValueError(f"n_inner={doc['n_inner']} is not supported: the MLP is 4 * n_embd wide")
    return GPTConfig(
        vocab_size=int(doc["vocab_size"]),
        n_positions=int(doc["n_positions"]),
        n_embd=int(doc["n_embd"]),
        n_layer=int(doc["n_layer"]),
        n_head=int(doc["n_head"]),
        layer_norm_epsilon=float(doc.get("layer_norm_epsilon", 1e-5)),
    )


def read_hf_checkpoint(checkpoint_dir: str | Path) -> tuple[dict, dict[str, Tensor]]:
    """(config.json as a dict, the stored tensors by their stored names)."""
    folder = Path(checkpoint_dir)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder}: no config.json (expected a Hugging Face GPT-2 folder)")
    config = json.loads(config_file.read_text())
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        tensors = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        # weights_only: a .bin is a pickle; refuse anything but tensors and plain containers.
        tensors = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(f"{folder}: neither model.safetensors nor pytorch_model.bin")
    return config, tensors


def convert_hf_state_dict(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Hugging Face GPT-2 names and layouts -> this GPT's ``state_dict``."""
    out: dict[str, Tensor] = {}
    lm_head = None
    for key, value in tensors.items():
        name = key.removeprefix("transformer.")
        if MASK_BUFFER.match(name):
            continue
        if name == "lm_head.weight":
            lm_head = value
            continue
        if name.endswith(CONV1D_WEIGHTS):
            value = value.t()  # (in, out) -> (out, in)
        out[name] = value
    if "wte.weight" not in out:
        raise ValueError("the checkpoint has no wte.weight: is this a GPT-2 checkpoint?")
    if lm_head is not None and not torch.equal(lm_head, out["wte.weight"]):
        raise ValueError("lm_head.weight differs from wte.weight: an untied checkpoint is not GPT-2")
    out["lm_head.weight"] = out["wte.weight"]
    return out


def gpt_from_hf(config: dict, tensors: dict[str, Tensor]) -> GPT:
    """A GPT in eval mode from a config.json document and the stored tensors."""
    model = GPT(config_from_hf(config))
    state = convert_hf_state_dict(tensors)
    # Parameters only: a block may keep its own mask buffer, which no checkpoint needs to fill.
    wanted = [name for name, _ in model.named_parameters(remove_duplicate=False)]
    missing = [k for k in wanted if k not in state]
    unexpected = [k for k in state if k not in wanted]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match the config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.load_state_dict(state, strict=False)
    return model.eval()


def load_gpt2(checkpoint_dir: str | Path) -> GPT:
    """Load a GPT-2 checkpoint folder in the Hugging Face layout."""
    return gpt_from_hf(*read_hf_checkpoint(checkpoint_dir))


# --------------------------------------------------------------------------- generation


@torch.no_grad()
def generate(model: GPT, idx: Tensor, max_new_tokens: int) -> Tensor:
    """Greedy decoding: append the most likely next token ``max_new_tokens`` times."""
    for _ in range(max_new_tokens):
        idx_cond = idx
        logits = model(idx_cond)  # (B, T, vocab_size)
        next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1)
        idx = torch.cat([idx, next_id], dim=1)  # (B, T + 1)
    return idx
