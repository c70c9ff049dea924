"""Common GPT-2 loading mistakes, kept so a failing check can name the one a student made.

Each variant replaces ``gpt_from_hf`` (what the checks build reference models with) and
``load_gpt2``; the model-side mistakes also replace ``GPT``. Loaded in the reference
worker beside the solution, which is importable there as ``gpt2_loading``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gpt2_loading import GPT, config_from_hf, convert_hf_state_dict, read_hf_checkpoint


def _correct(tensors: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    return convert_hf_state_dict(tensors)


def _variant(gpt_class: type = GPT, convert=_correct) -> dict:
    def gpt_from_hf(config: dict, tensors: dict[str, Tensor]) -> GPT:
        model = gpt_class(config_from_hf(config))
        model.load_state_dict(convert(tensors, model), strict=False)
        return model.eval()

    def load_gpt2(checkpoint_dir) -> GPT:
        return gpt_from_hf(*read_hf_checkpoint(checkpoint_dir))

    return {"gpt_from_hf": gpt_from_hf, "load_gpt2": load_gpt2, "GPT": gpt_class}


# --------------------------------------------------------------------------- loader mistakes


def _transpose_by_shape(tensors: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    # Transposes only where the shapes disagree, so the square attn.c_proj stays (in, out).
    params = dict(model.named_parameters(remove_duplicate=False))
    out = {}
    for key, value in tensors.items():
        name = key.removeprefix("transformer.")
        if name not in params or name == "lm_head.weight":
            continue
        if value.shape != params[name].shape and value.t().shape == params[name].shape:
            value = value.t()
        out[name] = value
    out["lm_head.weight"] = out["wte.weight"]
    return out


class UntiedGPT(GPT):
    """lm_head is a Linear of its own, left at its (seeded) random initialisation."""

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.lm_head.weight.normal_(0.0, 0.02, generator=gen)


def _without_lm_head(tensors: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    state = convert_hf_state_dict(tensors)
    del state["lm_head.weight"]
    return state


# --------------------------------------------------------------------------- model mistakes


def _block_with_exact_gelu(block: nn.Module, x: Tensor) -> Tensor:
    # The block's own attention and weights, but the erf GELU in the MLP.
    x = x + block.attn(block.ln_1(x))
    return x + block.mlp.c_proj(F.gelu(block.mlp.c_fc(block.ln_2(x))))


class ExactGeluGPT(GPT):
    def forward(self, idx: Tensor) -> Tensor:
        B, T = idx.size()
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.h:
            x = _block_with_exact_gelu(block, x)
        return self.lm_head(self.ln_f(x))


class NoPositionGPT(GPT):
    def forward(self, idx: Tensor) -> Tensor:
        x = self.wte(idx)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class NoFinalNormGPT(GPT):
    def forward(self, idx: Tensor) -> Tensor:
        B, T = idx.size()
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.h:
            x = block(x)
        return self.lm_head(x)


MISTAKES = {
    "Conv1D weights not transposed (GPT-2 stores c_attn, c_proj and c_fc as (in, out), nn.Linear as "
    "(out, in); transpose all four, also the square attn.c_proj)": _variant(convert=_transpose_by_shape),
    "lm_head not tied to wte (it keeps a random initialisation; GPT-2 uses wte as the output projection)": _variant(
        UntiedGPT, _without_lm_head
    ),
    "exact (erf) GELU in the MLP instead of GPT-2's tanh approximation (gelu_new)": _variant(ExactGeluGPT),
    "position embeddings (wpe) not added to the token embeddings": _variant(NoPositionGPT),
    "final layer norm ln_f not applied before lm_head": _variant(NoFinalNormGPT),
}
