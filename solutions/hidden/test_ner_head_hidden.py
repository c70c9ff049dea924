"""Hidden checks for exercise 5 (NER head): instructor grading only, never in a student kit.

They probe what the visible checks leave out, so a submission tuned to the visible
examples is still caught: many random tag sequences (ill-formed ones included), the
alignment of a whole split of real GPT-2 tokens, and the loss on (B, T, L) logits with B = 1
or T = 1 and on a batch holding a sentence with nothing to predict.
"""

import random

import pytest
import torch

from exercises.ner_head.ner_data import NER_LABELS, encode_words, label_ids, ner_split
from grader.compare import CheckFailure, expect_close, kind_and_value


def _same(what: str, got, want, mistakes: dict) -> None:
    if got == want:
        return
    message = f"{what} returned {got!r:.300}, expected {want!r:.300}"
    # Named only when one mistake alone gives this output: on a short input several often
    # do (['I-LOC'] loses its entity to more than one), and naming the first would guess.
    matches = [n for n, out in mistakes.items() if out == got]
    name = matches[0] if len(matches) == 1 else None
    if name:
        message += f". This looks like a known mistake: {name}"
    raise CheckFailure(message, mistake=name)


def _spans(value) -> list:
    if type(value) in (list, tuple) and all(type(s) in (list, tuple) and len(s) == 3 for s in value):
        return [tuple(s) for s in value]
    raise CheckFailure(f"bio_to_spans should return a list of (type, start, end) tuples, got {kind_and_value(value, 200)}")


def _ints(value, what: str = "align_labels") -> list:
    if type(value) is torch.Tensor and value.dim() == 1 and not value.is_floating_point():
        return [int(v) for v in value.tolist()]
    if type(value) in (list, tuple) and all(type(v) is int for v in value):
        return list(value)
    raise CheckFailure(f"{what} should return a list of ints, got {kind_and_value(value, 200)}")


@pytest.mark.hidden
@pytest.mark.points(2)
def test_bio_to_spans_random_sequences(student, reference, seed):
    rng = random.Random(seed)
    # O-heavy, like real predictions, with any tag allowed anywhere (ill-formed too).
    population = ["O"] * 6 + list(NER_LABELS[1:])
    for _ in range(40):
        tags = [rng.choice(population) for _ in range(rng.randint(0, 14))]
        mistakes = {n: _spans(v) for n, v in reference.diagnose(lambda ns: ns.bio_to_spans(tags)).items()}
        want = _spans(reference.bio_to_spans(tags))
        _same(f"bio_to_spans({tags!r})", _spans(student.bio_to_spans(tags)), want, mistakes)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_align_labels_whole_test_split(student, reference):
    for sentence in ner_split("test"):
        enc = encode_words(sentence.words, special_tokens=True)
        labels = label_ids(sentence.tags)
        want = _ints(reference.align_labels(enc.word_ids, labels), "the reference align_labels")
        got = _ints(student.align_labels(enc.word_ids, labels))
        if got != want:
            mistakes = {n: _ints(v, n) for n, v in reference.diagnose(lambda ns: ns.align_labels(enc.word_ids, labels)).items()}
            _same(f"align_labels for the GPT-2 tokens {enc.tokens}", got, want, mistakes)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_loss_edge_shapes_and_an_all_ignored_sentence(student, reference, generator, device):
    # The handout promises logits (B, T, L) and labels (B, T), nothing else: a batch of one
    # long sentence (B = 1), then one of many one-token sentences (T = 1).
    for shape in ((1, 10), (10, 1)):
        logits = (torch.randn(*shape, len(NER_LABELS), generator=generator) * 2).to(device)
        labels = torch.tensor([0, -100, 3, 3, -100, 8, 1, -100, 0, 5]).view(shape).to(device)
        mistakes = reference.diagnose(lambda ns: ns.ner_loss(logits, labels))
        expect_close(student.ner_loss(logits, labels), reference.ner_loss(logits, labels),
                     f"ner_loss of logits {(*shape, len(NER_LABELS))} and labels {shape}", mistakes=mistakes)
    batch = torch.randn(3, 5, len(NER_LABELS), generator=generator, dtype=torch.float64).to(device)
    labels = torch.randint(0, len(NER_LABELS), (3, 5), generator=generator)
    labels[1] = -100  # a sentence with nothing to predict
    labels = labels.to(device)
    mistakes = reference.diagnose(lambda ns: ns.ner_loss(batch, labels))
    expect_close(student.ner_loss(batch, labels), reference.ner_loss(batch, labels),
                 "ner_loss of a batch in which one sentence is all -100", mistakes=mistakes)
