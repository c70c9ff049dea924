"""Common NER-head mistakes, kept so a failing check can name the one a student made."""

import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100

# --------------------------------------------------------------------------- align_labels


def align_every_subword(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    return [IGNORE_INDEX if w is None else word_labels[w] for w in word_ids]


def align_specials_labelled(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    # Special tokens get label 0 ("O") instead of being ignored.
    out, previous = [], None
    for w in word_ids:
        out.append(0 if w is None else (word_labels[w] if w != previous else IGNORE_INDEX))
        previous = w
    return out


def align_last_subword(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    out = []
    for i, w in enumerate(word_ids):
        last = i + 1 == len(word_ids) or word_ids[i + 1] != w
        out.append(word_labels[w] if w is not None and last else IGNORE_INDEX)
    return out


# --------------------------------------------------------------------------- ner_loss


def loss_clamped(logits: Tensor, labels: Tensor) -> Tensor:
    # -100 turned into label 0 and averaged with everything else.
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1).clamp(min=0))


def loss_mean_over_all(logits: Tensor, labels: Tensor) -> Tensor:
    # Ignored positions contribute 0 but still count in the denominator.
    flat = labels.reshape(-1)
    per_token = F.cross_entropy(logits.reshape(-1, logits.size(-1)), flat, ignore_index=IGNORE_INDEX, reduction="none")
    return per_token.sum() / flat.numel()


def loss_summed(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")


# --------------------------------------------------------------------------- bio_to_spans


def _decode(tags: list[str], *, close_at_end=True, inclusive=False, stray_i_starts=True,
            i_switches_type=True, b_restarts=True) -> list[tuple[str, int, int]]:
    """The reference decoder with one rule switched off (each mistake flips one)."""
    spans, kind, start = [], None, 0

    def close(end: int) -> None:
        spans.append((kind, start, end - 1 if inclusive else end))

    for i, tag in enumerate(tags):
        prefix, _, tag_type = tag.partition("-")
        if prefix == "I" and kind is not None and (tag_type == kind or not i_switches_type):
            continue
        if prefix == "B" and kind == tag_type and not b_restarts:
            continue
        if kind is not None:
            close(i)
            kind = None
        if prefix == "B" or (prefix == "I" and stray_i_starts):
            kind, start = tag_type, i
    if kind is not None and close_at_end:
        close(len(tags))
    return spans


def spans_drop_last(tags):
    return _decode(tags, close_at_end=False)


def spans_end_inclusive(tags):
    return _decode(tags, inclusive=True)


def spans_ignore_stray_i(tags):
    return _decode(tags, stray_i_starts=False)


def spans_i_keeps_type(tags):
    return _decode(tags, i_switches_type=False)


def spans_b_continues(tags):
    return _decode(tags, b_restarts=False)


MISTAKES = {
    "every sub-word of a word gets the word's label (only the first should; the others get -100)": {
        "align_labels": align_every_subword
    },
    "special tokens (word id None) get a label instead of -100": {"align_labels": align_specials_labelled},
    "the last sub-word of each word gets the label instead of the first": {"align_labels": align_last_subword},
    "-100 labels are not ignored (clamped to label 0 and averaged with the rest)": {"ner_loss": loss_clamped},
    "the mean divides by every position, ignored ones included (divide by the number of labelled positions)": {
        "ner_loss": loss_mean_over_all
    },
    "the loss is summed instead of averaged over the labelled positions": {"ner_loss": loss_summed},
    "an entity that runs to the end of the sequence is dropped (close the open entity after the loop)": {
        "bio_to_spans": spans_drop_last
    },
    "span ends are inclusive; they should be exclusive (tags[start:end] is the entity)": {
        "bio_to_spans": spans_end_inclusive
    },
    "an I- tag that does not continue an entity (after O or at the start) is dropped; conlleval starts a new entity there": {
        "bio_to_spans": spans_ignore_stray_i
    },
    "an I- tag of another type continues the previous entity; it starts a new entity of its own type": {
        "bio_to_spans": spans_i_keeps_type
    },
    "B- right after an entity of the same type continues it; B- always starts a new entity": {
        "bio_to_spans": spans_b_continues
    },
}
