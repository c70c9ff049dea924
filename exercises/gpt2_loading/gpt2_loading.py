"""Exercise 6 — GPT-2 loading (course section 6: "Loading pretrained GPT-2 weights").

This exercise builds on exercise 4: your GPT is a stack of *your* ``DecoderBlock``
(``from decoder_block import DecoderBlock`` below imports your decoder_block.py; the
grader puts it beside this file). Grade it first: ``grade exercise decoder_block``.
Then you load the weights OpenAI released, in the layout Hugging Face saves them, and
generate text.

1. ``GPT(config)`` — GPT-2, with GPT-2's parameter names (the checkpoint's names):

       wte      nn.Embedding(vocab_size, n_embd)      token embeddings
       wpe      nn.Embedding(n_positions, n_embd)     position embeddings
       h        nn.ModuleList of n_layer DecoderBlock(n_embd, n_head, layer_norm_eps=layer_norm_epsilon)
       ln_f     nn.LayerNorm(n_embd, eps=layer_norm_epsilon)
       lm_head  nn.Linear(n_embd, vocab_size, bias=False), *tied* to wte:
                ``self.lm_head.weight = self.wte.weight`` (one Parameter, two names)

   Keep the config as ``self.config``. No dropout (we only run the model).
   ``forward(idx)``: ``idx`` (B, T) token ids, T <= n_positions -> logits (B, T, vocab_size):

       x = wte(idx) + wpe(positions 0..T-1)     # (B, T, C)
       x = block(x) for each block in h         # (B, T, C)
       logits = lm_head(ln_f(x))                # (B, T, vocab_size)

2. ``load_gpt2(checkpoint_dir)`` — a folder as Hugging Face's ``save_pretrained`` writes it:

   - ``config.json``: read ``vocab_size``, ``n_positions``, ``n_embd``, ``n_layer``,
     ``n_head``, ``layer_norm_epsilon`` into a ``GPTConfig`` (ignore the other fields);
   - the weights: ``model.safetensors`` (``safetensors.torch.load_file``) or, in older
     folders, ``pytorch_model.bin`` (``torch.load(path, map_location="cpu",
     weights_only=True)``; never unpickle without ``weights_only``);
   - key names are yours with a ``transformer.`` prefix (``transformer.h.0.ln_1.weight``)
     — or without it, in older files;
   - ``h.N.attn.bias`` and ``h.N.attn.masked_bias``, if present, are saved causal-mask
     buffers, not weights: skip them (careful: ``h.N.attn.c_attn.bias`` *is* a weight);
   - ``lm_head.weight`` is usually absent (it is ``wte.weight``): tying covers it;
   - GPT-2 implements ``c_attn``, ``c_proj`` and ``c_fc`` as ``Conv1D`` layers
     (``y = x @ W + b``) whose weights are stored (in, out); ``nn.Linear`` keeps
     (out, in). Transpose these four weights in every block — including the square
     ``attn.c_proj.weight``, where a forgotten transpose raises no error:

         attn.c_attn.weight (C, 3C)   attn.c_proj.weight (C, C)
         mlp.c_fc.weight    (C, 4C)   mlp.c_proj.weight  (4C, C)

   Copy the tensors in with ``load_state_dict`` (not ``assign=True`` and not new
   ``nn.Parameter`` objects, which would break the tie). Return the model in eval mode.
   A missing file is a ``FileNotFoundError`` that names the folder.

3. ``generate(model, idx, max_new_tokens)`` — greedy decoding: ``max_new_tokens`` times,
   run the model, take the arg-max of the last position's logits, append it. Feed the
   model at most the last ``n_positions`` tokens (crop ``idx``). Returns the prompt
   followed by the new tokens: (B, T + max_new_tokens). No gradients needed.

Check your work with ``grade exercise gpt2_loading``: it grades on a tiny GPT-2 in
``data/tiny-gpt2`` (the real 50257-token vocabulary, random weights). Then try the real
thing: download GPT-2 once (e.g. ``hf download gpt2 config.json model.safetensors
--local-dir gpt2`` with huggingface_hub's ``hf`` command) and run ``grade exercise gpt2_loading --checkpoint gpt2``
(or set ``GRADER_GPT2_CHECKPOINT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from decoder_block import DecoderBlock  # your exercise 4


@dataclass
class GPTConfig:
    vocab_size: int = 50257  # GPT-2's byte-level BPE vocabulary
    n_positions: int = 1024  # longest context: the rows of wpe
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    layer_norm_epsilon: float = 1e-5


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        # wte, wpe, h (n_layer DecoderBlocks), ln_f, lm_head tied to wte
        raise NotImplementedError("GPT.__init__: build wte, wpe, h, ln_f and the tied lm_head")

    def forward(self, idx: Tensor) -> Tensor:
        # idx: (B, T) token ids -> logits (B, T, vocab_size)
        raise NotImplementedError("GPT.forward: embeddings, blocks, ln_f, lm_head")


def load_gpt2(checkpoint_dir: str | Path) -> GPT:
    # config.json -> GPTConfig; model.safetensors or pytorch_model.bin -> tensors;
    # rename, skip the mask buffers, transpose the Conv1D weights, load_state_dict.
    raise NotImplementedError("load_gpt2: read config.json and the weights, map them onto GPT")


@torch.no_grad()
def generate(model: GPT, idx: Tensor, max_new_tokens: int) -> Tensor:
    # idx: (B, T) -> (B, T + max_new_tokens), greedy, context cropped to n_positions
    raise NotImplementedError("generate: greedy decoding")
