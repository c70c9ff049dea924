"""The wrong gpt2_loading submissions, each the correct ``copy_loop.py`` with a few exact text
replacements: ``write_variant(out_dir, name)`` writes ``name`` into ``out_dir``."""

from pathlib import Path

from conftest import submission_variant

BASE = Path(__file__).with_name("copy_loop.py")
DOCSTRING = '"""A correct submission written differently: nanoGPT-style parameter copying, no helper functions."""'

VARIANTS = {
    "no_transpose.py": [
        (DOCSTRING, '"""Wrong on purpose: transposes only the Conv1D weights whose shape does not fit, '
                    'so the square attn.c_proj stays (in, out)."""'),
        ("if any(k.endswith(w) for w in transposed):", "if sd_hf[k].shape != sd[k].shape:"),
    ],
    "untied.py": [
        (DOCSTRING, '"""Wrong on purpose: lm_head is a Linear of its own; the checkpoint has no lm_head.weight, '
                    'so it stays random."""'),
        ("        self.lm_head.weight = self.wte.weight\n", ""),
    ],
    "tied_by_data.py": [
        (DOCSTRING, '"""Wrong on purpose: lm_head shares wte\'s data (.data =) but is a Parameter of its own."""'),
        ("        self.lm_head.weight = self.wte.weight\n", "        self.lm_head.weight.data = self.wte.weight.data\n"),
    ],
    "no_wpe.py": [
        (DOCSTRING, '"""Wrong on purpose: forgets the position embeddings in forward."""'),
        ("x = self.wte(idx) + self.wpe(pos)[None]", "x = self.wte(idx)"),
    ],
    "positions_from_one.py": [
        (DOCSTRING, '"""Wrong on purpose: positions 1..T, so a full context of n_positions tokens runs off wpe '
                    '(generate crops correctly)."""'),
        ("pos = torch.arange(0, t, dtype=torch.long, device=idx.device)",
         "pos = torch.arange(1, t + 1, dtype=torch.long, device=idx.device)"),
    ],
    "not_eval.py": [
        (DOCSTRING, '"""Wrong on purpose: load_gpt2 returns the model in training mode."""'),
        ("    model.eval()\n", ""),
    ],
    "no_crop.py": [
        (DOCSTRING, '"""Wrong on purpose: generate feeds the whole context, past n_positions."""'),
        ("idx_cond = idx if idx.size(1) <= model.config.n_positions else idx[:, -model.config.n_positions:]",
         "idx_cond = idx"),
    ],
}


def write_variant(out_dir: Path, name: str) -> Path:
    """``out_dir / name``: the base with ``VARIANTS[name]`` applied."""
    return submission_variant(BASE, VARIANTS[name], out_dir, name)
