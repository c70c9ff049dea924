"""Wrong on purpose: forgets the position embeddings in forward."""

import json
import os
from dataclasses import dataclass

import torch
from torch import nn

from decoder_block import DecoderBlock


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    layer_norm_epsilon: float = 1e-5


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.h = nn.ModuleList([DecoderBlock(config.n_embd, config.n_head, layer_norm_eps=config.layer_norm_epsilon)
                                for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        b, t = idx.shape
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.wte(idx)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return self.lm_head(x)


def load_gpt2(checkpoint_dir):
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        cfg = json.load(f)
    config = GPTConfig(cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"],
                       cfg["layer_norm_epsilon"])
    path = os.path.join(checkpoint_dir, "model.safetensors")
    if os.path.exists(path):
        from safetensors.torch import load_file
        sd_hf = load_file(path)
    else:
        sd_hf = torch.load(os.path.join(checkpoint_dir, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    sd_hf = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in sd_hf.items()}
    model = GPT(config)
    sd = model.state_dict()
    transposed = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
    with torch.no_grad():
        for k in sd:
            if k == "lm_head.weight" or k not in sd_hf:
                continue
            if any(k.endswith(w) for w in transposed):
                sd[k].copy_(sd_hf[k].t())
            else:
                sd[k].copy_(sd_hf[k])
    model.eval()
    return model


@torch.no_grad()
def generate(model, idx, max_new_tokens):
    for _ in range(max_new_tokens):
        idx_cond = idx if idx.size(1) <= model.config.n_positions else idx[:, -model.config.n_positions:]
        logits = model(idx_cond)
        idx_next = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx
