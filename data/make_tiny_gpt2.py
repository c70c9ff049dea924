"""Write the tiny GPT-2 checkpoint in data/tiny-gpt2/, from a fixed seed.

    python data/make_tiny_gpt2.py            # rewrites data/tiny-gpt2/
    python data/make_tiny_gpt2.py OUT_DIR    # somewhere else

The folder is laid out exactly as ``transformers`` 5.x ``GPT2LMHeadModel.save_pretrained``
writes it, so that a loader that works here works on a real GPT-2 folder too:

- ``config.json``: the fields and values Hugging Face writes for a GPT-2 config
  (``model_type: "gpt2"``, ``activation_function: "gelu_new"`` (the tanh GELU), ...);
- ``model.safetensors`` (metadata ``{"format": "pt"}``): keys with the ``transformer.``
  prefix; the Conv1D weights (``attn.c_attn``, ``attn.c_proj``, ``mlp.c_fc``,
  ``mlp.c_proj``) stored (in, out); no ``lm_head.weight`` (tied to ``wte``, so
  save_pretrained drops the duplicate) and no ``attn.bias`` mask buffers (5.x no longer
  saves them; older checkpoints, like the ``gpt2`` one on the Hub, still carry them);
- ``generation_config.json``, as save_pretrained writes it.

Size: the real 50257-token vocabulary (so the real GPT-2 tokenizer's ids work) with a small
width: n_embd 32, 2 layers, 2 heads, 64 positions. ``wte`` dominates at 50257 x 32 floats,
so model.safetensors is about 6.6 MB.

Weights are random, but *every* tensor is (layer-norm gains and all biases too): a loader
that skips or misplaces any tensor changes the logits. The scales are larger than GPT-2's
initialisation so that the blocks, not the token's own embedding, dominate the residual
stream: greedy generation then moves on to new tokens instead of repeating the last one,
and the exact GELU differs visibly from the tanh GELU.

Only torch and safetensors are needed (not transformers): the course repo must be able to
rebuild its data without the dev extra.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT_DIR = Path(__file__).resolve().parent / "tiny-gpt2"
SEED = 1234
# The transformers release whose save_pretrained layout this file reproduces.
TRANSFORMERS_VERSION = "5.23.0"


@dataclass(frozen=True)
class TinyConfig:
    vocab_size: int = 50257  # the real GPT-2 vocabulary
    n_positions: int = 64
    n_embd: int = 32
    n_layer: int = 2
    n_head: int = 2
    layer_norm_epsilon: float = 1e-5


def hf_config(cfg: TinyConfig) -> dict:
    """config.json as transformers 5.x writes it for GPT2LMHeadModel (keys sorted, like HF)."""
    doc = {
        "activation_function": "gelu_new",
        "add_cross_attention": False,
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "dtype": "float32",
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": cfg.layer_norm_epsilon,
        "model_type": "gpt2",
        "n_embd": cfg.n_embd,
        "n_head": cfg.n_head,
        "n_inner": None,
        "n_layer": cfg.n_layer,
        "n_positions": cfg.n_positions,
        "pad_token_id": None,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "tie_word_embeddings": True,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": cfg.vocab_size,
    }
    return dict(sorted(doc.items()))


def generation_config() -> dict:
    return {
        "_from_model_config": True,
        "bos_token_id": 50256,
        "eos_token_id": 50256,
        "output_attentions": False,
        "output_hidden_states": False,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
    }


def random_state(cfg: TinyConfig, seed: int = SEED) -> dict[str, torch.Tensor]:
    """Every tensor of a GPT-2 checkpoint, HF names and layouts, drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    C, V, P = cfg.n_embd, cfg.vocab_size, cfg.n_positions

    def normal(*shape: int, std: float, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * std + mean

    sd = {
        "transformer.wte.weight": normal(V, C, std=0.1),
        "transformer.wpe.weight": normal(P, C, std=0.3),
    }
    for i in range(cfg.n_layer):
        p = f"transformer.h.{i}."
        # Conv1D weights are (in, out): x @ W + b.
        sd[p + "ln_1.weight"] = normal(C, std=0.1, mean=1.0)
        sd[p + "ln_1.bias"] = normal(C, std=0.1)
        sd[p + "attn.c_attn.weight"] = normal(C, 3 * C, std=0.3)
        sd[p + "attn.c_attn.bias"] = normal(3 * C, std=0.1)
        sd[p + "attn.c_proj.weight"] = normal(C, C, std=0.3)
        sd[p + "attn.c_proj.bias"] = normal(C, std=0.1)
        sd[p + "ln_2.weight"] = normal(C, std=0.1, mean=1.0)
        sd[p + "ln_2.bias"] = normal(C, std=0.1)
        sd[p + "mlp.c_fc.weight"] = normal(C, 4 * C, std=0.3)
        sd[p + "mlp.c_fc.bias"] = normal(4 * C, std=0.1)
        sd[p + "mlp.c_proj.weight"] = normal(4 * C, C, std=0.3)
        sd[p + "mlp.c_proj.bias"] = normal(C, std=0.1)
    sd["transformer.ln_f.weight"] = normal(C, std=0.1, mean=1.0)
    sd["transformer.ln_f.bias"] = normal(C, std=0.1)
    return sd


def write_checkpoint(out_dir: Path, cfg: TinyConfig = TinyConfig(), seed: int = SEED) -> Path:
    """Write config.json, generation_config.json and model.safetensors into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(hf_config(cfg), indent=2) + "\n")
    (out_dir / "generation_config.json").write_text(json.dumps(generation_config(), indent=2) + "\n")
    save_file(random_state(cfg, seed), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    return out_dir


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else OUT_DIR
    write_checkpoint(out)
    size = (out / "model.safetensors").stat().st_size
    print(f"wrote {out} (model.safetensors: {size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
