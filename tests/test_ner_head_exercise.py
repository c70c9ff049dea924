"""The NER-head exercise: reference, stub, wrong and differently written submissions, oracles.

The wrong submissions are functional.py with one mistake written in
(submissions/ner_head/variants.py); ``conftest.graded`` writes and grades each once."""

import importlib.util
import random

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, assert_named_failure, check_named
from conftest import graded as graded_submission

from grader.results import PASSED


def graded(name: str):
    return graded_submission("ner_head", name)


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "name, check, expected_message",
    [
        ("every_subword.py", "test_align_labels_examples", "every sub-word of a word gets the word's label"),
        ("every_subword.py", "test_align_labels_on_gpt2_tokens", "every sub-word of a word gets the word's label"),
        ("clamped_loss.py", "test_loss_matches_reference", "-100 labels are not ignored"),
        ("clamped_loss.py", "test_loss_ignores_positions_labelled_minus_100", "-100 labels are not ignored"),
        ("clamped_loss.py", "test_training_reaches_reference_f1", "entity F1 on the test split"),
        ("drop_last_span.py", "test_bio_to_spans_entity_at_the_end", "entity that runs to the end of the sequence is dropped"),
        ("inclusive_spans.py", "test_bio_to_spans_well_formed", "span ends are inclusive"),
        ("logit_dropout.py", "test_head_dropout_only_in_training", "dropout is applied to the logits"),
        ("no_update.py", "test_training_reaches_reference_f1", "are the head's parameters being updated?"),
        # The long run uses lr=1.0, where ignoring lr changes nothing: a short run at another rate shows it.
        ("ignores_lr.py", "test_training_reaches_reference_f1", "with lr=0.25, train_head's loss at step 1"),
        # Only a word whose pieces are both first and last (no special tokens) shows it.
        ("wraparound_previous.py", "test_align_labels_examples", "align_labels([0, 0, 0], "),
    ],
)
def test_wrong_submissions_get_partial_scores_and_named_mistakes(name, check, expected_message):
    result = graded(name)
    assert 0 < result.score < result.max_score, result.to_json()
    assert_named_failure(result, check, expected_message)


@pytest.mark.parametrize("name", ["every_subword.py", "drop_last_span.py", "inclusive_spans.py", "logit_dropout.py"])
def test_one_mistake_costs_only_its_own_checks(name):
    # The training check aligns labels with the reference and decodes nothing with the
    # student's code, so a wrong align_labels or bio_to_spans alone still trains fine.
    result = graded(name)
    assert check_named(result, "test_training_reaches_reference_f1").status == PASSED, result.to_json()
    assert check_named(result, "test_loss_matches_reference").status == PASSED


def test_failure_message_shows_the_first_difference():
    message = check_named(graded("every_subword.py"), "test_align_labels_examples").message
    assert "first difference at position" in message and "expected -100" in message, message


@pytest.mark.parametrize("name", ["functional.py", "loops.py"])
def test_differently_written_correct_submissions_get_full_marks(name):
    result = graded(name)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]


# --------------------------------------------------------------------------- oracles


@pytest.fixture(scope="module")
def reference():
    return _load(ROOT / "solutions" / "ner_head.py", "reference_ner_head")


def test_reference_loss_equals_torch_cross_entropy(reference):
    """Independent oracle: torch.nn.functional.cross_entropy(ignore_index=-100)."""
    gen = torch.Generator().manual_seed(0)
    for shape, ignore in [((2, 7), 0.4), ((5, 3), 0.0), ((1, 9), 0.9), ((12,), 0.5)]:
        logits = torch.randn(*shape, 9, generator=gen, dtype=torch.float64) * 3
        labels = torch.randint(0, 9, shape, generator=gen)
        labels[torch.rand(shape, generator=gen) < ignore] = -100
        labels.view(-1)[0] = 4
        logits.requires_grad_()
        got = reference.ner_loss(logits, labels)
        (got_grad,) = torch.autograd.grad(got, logits)
        want = F.cross_entropy(logits.reshape(-1, 9), labels.reshape(-1), ignore_index=-100)
        (want_grad,) = torch.autograd.grad(want, logits)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(got_grad, want_grad)


def _conlleval_chunks(tags):
    """Chunk boundaries as conlleval.pl defines them (startOfChunk / endOfChunk), transcribed."""
    spans, start, prev_tag, prev_type = [], None, "O", ""
    for i, item in enumerate(tags + ["O"]):
        tag, _, kind = item.partition("-")
        end = (prev_tag in ("B", "I") and tag in ("B", "O")) or (prev_tag in ("B", "I") and tag == "I" and prev_type != kind)
        begin = tag == "B" or (tag == "I" and prev_tag in ("O",)) or (tag == "I" and prev_tag in ("B", "I") and prev_type != kind)
        if end and start is not None:
            spans.append((prev_type, start, i))
            start = None
        if begin:
            start = i
        prev_tag, prev_type = tag, kind
    return spans


def test_reference_bio_to_spans_follows_conlleval(reference):
    """Oracle: the chunk start/end rules of the conlleval script, on random sequences."""
    rng = random.Random(0)
    population = ["O"] * 4 + [f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG", "MISC")]
    for _ in range(2000):
        tags = [rng.choice(population) for _ in range(rng.randint(0, 12))]
        assert reference.bio_to_spans(tags) == _conlleval_chunks(tags), tags


def test_mistake_variants_differ_from_the_reference(reference):
    """Each known mistake must be told apart from the reference on some visible check input."""
    mistakes = _load(ROOT / "solutions" / "ner_head_mistakes.py", "ner_head_mistakes").MISTAKES
    assert len(mistakes) >= 8
    probes = {
        "align_labels": ([None, 0, 0, 1, 2, 2, None], [3, 4, 0]),
        "bio_to_spans": (["O", "I-ORG", "B-PER", "I-LOC", "B-LOC", "B-LOC", "I-LOC"],),
    }
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 9, generator=gen)
    labels = torch.tensor([[1, -100, 2, 0, -100], [-100, 3, 3, -100, 8]])
    probes["ner_loss"] = (logits, labels)
    for name, overrides in mistakes.items():
        for attr, wrong in overrides.items():
            args = probes[attr]
            got, want = wrong(*args), getattr(reference, attr)(*args)
            same = torch.allclose(got, want) if isinstance(want, torch.Tensor) else got == want
            assert not same, name


def test_reference_alignment_on_the_handout_example(reference):
    word_ids = [None, 0, 0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, None]
    assert reference.align_labels(word_ids, [1, 2, 0, 3, 0]) == [-100, 1, -100, 2, -100, -100, -100, -100, 0, 3, -100, -100, -100, 0, -100]


def test_what_stayed_in_the_worker_is_named_by_its_type():
    from conftest import check_named, graded

    result = graded("ner_head", "spans_as_set.py")
    message = check_named(result, "test_bio_to_spans").message
    assert "got an object of type set" in message and "Remote" not in message and "<remote" not in message, message


def test_losses_recorded_after_the_update_are_said_so():
    from conftest import check_named, graded

    result = graded("ner_head", "loss_after_step.py")
    message = check_named(result, "test_training_reaches_reference_f1").message
    assert "Each of your losses is the reference's of the next step" in message, message
