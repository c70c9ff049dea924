"""ner_head attempts, each the correct ``functional.py`` with a few exact text replacements:
``write_variant(out_dir, name)`` writes ``name`` into ``out_dir``. ``WRONG`` are the attempts
with one known mistake each (tests/test_ner_head_exercise.py, tests/test_refcache.py), the
others belong to the fair-checks corpus (tests/test_fair_checks.py)."""

from pathlib import Path

from conftest import submission_variant

BASE = Path(__file__).with_name("functional.py")
DOCSTRING = '"""Correct, written differently: F.cross_entropy with ignore_index, torch.optim.SGD, zip-based loops."""'
LOSS = "return F.cross_entropy(logits.flatten(0, -2), labels.flatten(), ignore_index=-100)"
SPANS = "return [tuple(s) for s in spans]"

WRONG = {
    "clamped_loss.py": [
        (DOCSTRING, '"""Wrong: -100 labels are clamped to 0 and averaged with the rest."""'),
        (LOSS, "return F.cross_entropy(logits.flatten(0, -2), labels.flatten().clamp(min=0))"),
    ],
    "drop_last_span.py": [
        (DOCSTRING, '"""Wrong: an entity on the last tag is dropped."""'),
        (SPANS, "return [tuple(s) for s in spans if s[2] < len(tags)]"),
    ],
    "every_subword.py": [
        (DOCSTRING, '"""Wrong: every sub-word of a word gets the word\'s label."""'),
        ("first = w is not None and (i == 0 or word_ids[i - 1] != w)", "first = w is not None"),
    ],
    "inclusive_spans.py": [
        (DOCSTRING, '"""Wrong: span ends are inclusive."""'),
        (SPANS, "return [(k, s, e - 1) for k, s, e in spans]"),
    ],
    "logit_dropout.py": [
        (DOCSTRING, '"""Wrong: dropout applied to the logits, not the hidden states."""'),
        ("return self.classifier(self.drop(hidden))", "return self.drop(self.classifier(hidden))"),
    ],
    "no_update.py": [
        (DOCSTRING, '"""Wrong: train_head computes the loss but never steps the optimizer."""'),
        ("        optimizer.step()\n", ""),
    ],
    "wraparound_previous.py": [
        (DOCSTRING, '"""Wrong: compares each word id with word_ids[i - 1], which at i = 0 is the last one."""'),
        ("first = w is not None and (i == 0 or word_ids[i - 1] != w)", "first = w is not None and word_ids[i - 1] != w"),
    ],
    "ignores_lr.py": [
        (DOCSTRING, '"""Wrong: train_head steps with a rate of 1.0 whatever lr it is given."""'),
        ("optimizer = torch.optim.SGD(head.parameters(), lr=lr)", "optimizer = torch.optim.SGD(head.parameters(), lr=1.0)"),
    ],
}

# The fair-checks corpus.
FAIR = {
    # Correct: cross_entropy wants the classes in dim 1, so (B, T, L) -> (B, L, T). Right for
    # every input the handout promises; wrong only for flat (N, L) logits, which it does not.
    "transposed_loss.py": [
        (DOCSTRING, '"""Correct, written differently: F.cross_entropy on logits.transpose(1, 2), as the handout\'s (B, T, L) allows."""'),
        (LOSS, "return F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)"),
    ],
    # One mistake: the loss is computed in float32 and cast back to the logits' dtype.
    "float32_cast_back.py": [
        (DOCSTRING, '"""One mistake: the loss is computed in float32 and cast back to the dtype of the logits."""'),
        (LOSS, "return F.cross_entropy(logits.float().flatten(0, -2), labels.flatten(), ignore_index=-100).to(logits.dtype)"),
    ],
    # Wrong: the spans come back as a set, which stays in the worker (not data): the message
    # names its type, not the grader's proxy.
    "spans_as_set.py": [
        (DOCSTRING, '"""Wrong: bio_to_spans returns a set of spans."""'),
        (SPANS, "return {tuple(s) for s in spans}"),
    ],
    # Wrong: each loss is recorded after the update, so every one is the next step's.
    "loss_after_step.py": [
        (DOCSTRING, '"""Wrong: train_head records the loss of the logits after each update."""'),
        ("        optimizer.step()\n        losses.append(float(loss))\n",
         "        optimizer.step()\n        losses.append(float(ner_loss(head(features), labels)))\n"),
    ],
    # Wrong: the gradients are never zeroed, so every step adds those of all earlier steps.
    "no_zero_grad.py": [
        (DOCSTRING, '"""Wrong: train_head never zeroes the gradients (they pile up over the steps)."""'),
        ("        optimizer.zero_grad()\n", ""),
    ],
}

VARIANTS = {**WRONG, **FAIR}


def write_variant(out_dir: Path, name: str) -> Path:
    """``out_dir / name``: the base with ``VARIANTS[name]`` applied."""
    return submission_variant(BASE, VARIANTS[name], out_dir, name)
