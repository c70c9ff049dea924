"""ner_head attempts for the fair-checks corpus, each the correct ``functional.py`` with a few
exact text replacements: ``write_variant(out_dir, name)`` writes ``name`` into ``out_dir``."""

from pathlib import Path

from conftest import submission_variant

BASE = Path(__file__).with_name("functional.py")
DOCSTRING = '"""Correct, written differently: F.cross_entropy with ignore_index, torch.optim.SGD, zip-based loops."""'
LOSS = "return F.cross_entropy(logits.flatten(0, -2), labels.flatten(), ignore_index=-100)"

VARIANTS = {
    # Correct: cross_entropy wants the classes in dim 1, so (B, T, L) -> (B, L, T). Right for
    # every input the handout promises; wrong only for flat (N, L) logits, which it does not.
    "transposed_loss.py": [
        (DOCSTRING, '"""Correct, written differently: F.cross_entropy on logits.transpose(1, 2), as the handout\'s (B, T, L) allows."""'),
        (LOSS, "return F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)"),
    ],
    # Wrong: the gradients are never zeroed, so every step adds those of all earlier steps.
    "no_zero_grad.py": [
        (DOCSTRING, '"""Wrong: train_head never zeroes the gradients (they pile up over the steps)."""'),
        ("        optimizer.zero_grad()\n", ""),
    ],
}


def write_variant(out_dir: Path, name: str) -> Path:
    """``out_dir / name``: the base with ``VARIANTS[name]`` applied."""
    return submission_variant(BASE, VARIANTS[name], out_dir, name)
