"""Checks for exercise 5 (NER head). Run with ``grade exercise ner_head``.

Token word ids come from the real GPT-2 tokenizer (``ner_data.encode_words``). The training check
trains your head, with your ``ner_loss`` and ``train_head``, on frozen features of the
course's NER corpus and scores entity F1 on the test split, next to the reference trained
the same way from the same seed.
"""

import math

import pytest
import torch

from exercises.ner_head.ner_data import NER_LABELS, encode_words, label_ids, ner_split
from grader.compare import (CheckFailure, expect, expect_close, expect_finite, expect_own_precision, expect_tensor,
                            kind_and_value, kind_of, output_dtypes)
from grader.remote import LazyMistakes, Remote, StudentError, vjp

NUM_LABELS = len(NER_LABELS)
IGNORE = -100

# --------------------------------------------------------------------------- helpers


def _short(value, limit: int = 240) -> str:
    if isinstance(value, Remote):
        return kind_of(value)  # stayed in the worker: only its type is known here
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ...]"


def as_int_list(value, what: str) -> list[int]:
    """A list (or tuple, or 1-D integer tensor) of plain ints, or a failure saying what came back."""
    if type(value) is torch.Tensor and value.dim() == 1 and not value.is_floating_point():
        return [int(v) for v in value.tolist()]
    if type(value) in (list, tuple) and all(type(v) is int for v in value):
        return list(value)
    raise CheckFailure(f"{what} should return a list of ints, got {kind_and_value(value)}")


def as_spans(value, what: str) -> list[tuple[str, int, int]]:
    """A list of (type, start, end) triples of str, int, int (tuples or lists)."""
    def is_span(s) -> bool:
        return type(s) in (list, tuple) and len(s) == 3 and type(s[0]) is str and type(s[1]) is int and type(s[2]) is int

    if type(value) in (list, tuple) and all(is_span(s) for s in value):
        return [tuple(s) for s in value]
    raise CheckFailure(f"{what} should return a list of (type, start, end) tuples, got {kind_and_value(value)}")


def expect_same_lists(cases: list[tuple[str, object, object, dict]]) -> None:
    """Compare each case's (already normalised) output; name a mistake when one explains it.

    ``cases`` holds (what, actual, expected, {mistake: its output}). A mistake that gives
    the student's output on *every* case is named first; else one matching the first
    failing case.
    """
    failing = [(what, got, want, mistakes) for what, got, want, mistakes in cases if got != want]
    if not failing:
        return
    what, got, want, mistakes = failing[0]
    message = f"{what} returned {_short(got)}, expected {_short(want)}"
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        message += f" (first difference at position {i}: got {got[i]!r}, expected {want[i]!r})"
    elif isinstance(got, list) and isinstance(want, list):
        message += f" ({len(got)} items, expected {len(want)})"
    consistent = [n for n in cases[0][3] if all(c[3].get(n) == c[1] for c in cases)]
    local = [n for n, out in mistakes.items() if out == got]
    name = (consistent or local or [None])[0]
    if name:
        message += f". This looks like a known mistake: {name}"
    raise CheckFailure(message, mistake=name)


def align_case(student, reference, word_ids, word_labels, what):
    variants = reference.diagnose(lambda ns: ns.align_labels(word_ids, word_labels))
    want = as_int_list(reference.align_labels(word_ids, word_labels), "the reference align_labels")
    got = as_int_list(student.align_labels(word_ids, word_labels), "align_labels")
    mistakes = LazyMistakes(lambda: {n: as_int_list(v, n) for n, v in variants.items()})
    return (what, got, want, mistakes)


def spans_case(student, reference, tags):
    variants = reference.diagnose(lambda ns: ns.bio_to_spans(tags))
    want = as_spans(reference.bio_to_spans(tags), "the reference bio_to_spans")
    got = as_spans(student.bio_to_spans(tags), "bio_to_spans")
    mistakes = LazyMistakes(lambda: {n: as_spans(v, n) for n, v in variants.items()})
    return (f"bio_to_spans({tags!r})", got, want, mistakes)


def seeded_labels(generator, n_words: int) -> list[int]:
    """Distinct labels for ``n_words`` words, drawn per grading seed: which label a word has
    does not matter to align_labels, distinct ones show which word a token took its label from."""
    return torch.randperm(NUM_LABELS, generator=generator)[:n_words].tolist()


def seeded_tags(generator, tags: list[str]) -> list[str]:
    """``tags`` with the entity types renamed by a seeded permutation and, unless the sequence
    starts with I- (the start-of-sequence case) or is empty, 0 to 2 "O" tags in front.

    The span structure each example is about is unchanged; the inputs differ per grading
    seed, so a kit's recorded replies do not answer instructor grading."""
    types = ENTITY_TYPES[1:]  # without "O"
    order = torch.randperm(len(types), generator=generator).tolist()
    rename = {old: types[i] for old, i in zip(types, order)}
    out = [tag if tag == "O" else f"{tag[:2]}{rename[tag[2:]]}" for tag in tags]
    pad = int(torch.randint(0, 3, (1,), generator=generator))
    if not tags or tags[0].startswith("I-"):
        pad = 0
    return ["O"] * pad + out


def spans_cases(student, reference, generator, sequences: list[list[str]]) -> list:
    return [spans_case(student, reference, seeded_tags(generator, tags)) for tags in sequences]


def head_weights(generator, d_model: int, num_labels: int) -> dict[str, torch.Tensor]:
    return {
        "classifier.weight": torch.randn(num_labels, d_model, generator=generator) * 0.2,
        "classifier.bias": torch.randn(num_labels, generator=generator) * 0.1,
    }


def on_device(module, device) -> None:
    # Only when needed: a recorded reference (a student kit) replays the same calls on CPU.
    if device.type != "cpu":
        module.to(device.type)


def loaded_head(ns, weights, d_model, num_labels, device, dropout=0.1):
    head = ns.TokenClassificationHead(d_model, num_labels, dropout=dropout)
    head.load_state_dict(weights)
    on_device(head, device)
    head.eval()
    return head


def random_labels(generator, shape, ignore_fraction=0.4) -> torch.Tensor:
    labels = torch.randint(0, NUM_LABELS, shape, generator=generator)
    labels[torch.rand(shape, generator=generator) < ignore_fraction] = IGNORE
    labels.view(-1)[0] = 1  # at least one labelled position
    return labels


# --------------------------------------------------------------------------- align_labels


@pytest.mark.points(2)
def test_align_labels_examples(student, reference, generator):
    examples = [  # word ids; each word's label is drawn per seed (seeded_labels)
        [None, 0, 0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, None],  # the handout's
        [0, 1, 2],  # one token per word, no special tokens
        [None, 0, 0, 0, None],  # one word in three pieces
        [0, 0, 1, 2, 2, None],
        [0, 0, 0],  # one word, no special tokens: its first piece has no piece before it
    ]
    cases = []
    for ids in examples:
        labels = seeded_labels(generator, max(i for i in ids if i is not None) + 1)
        cases.append(align_case(student, reference, ids, labels, f"align_labels({ids}, {labels})"))
    expect_same_lists(cases)


@pytest.mark.points(2)
def test_align_labels_on_gpt2_tokens(student, reference, generator):
    # Sentences whose words GPT-2 splits into several sub-words, wrapped in <|endoftext|>:
    # 8 of them, chosen per grading seed.
    eligible = [s for s in ner_split("test") if max(_pieces(s.words)) >= 3]
    sentences = [eligible[i] for i in sorted(torch.randperm(len(eligible), generator=generator)[:8].tolist())]
    cases = []
    for s in sentences:
        enc = encode_words(s.words, special_tokens=True)
        what = f"align_labels for the GPT-2 tokens {enc.tokens} (word ids {enc.word_ids})"
        cases.append(align_case(student, reference, enc.word_ids, label_ids(s.tags), what))
    expect_same_lists(cases)


def _pieces(words: list[str]) -> list[int]:
    word_ids = encode_words(words).word_ids
    return [word_ids.count(i) for i in range(len(words))]


# --------------------------------------------------------------------------- the head


@pytest.mark.points(1)
def test_head_parameters(student):
    head = student.TokenClassificationHead(24, NUM_LABELS)
    state = head.state_dict()
    expect(type(state) is dict and all(type(v) is torch.Tensor for v in state.values()),
           f"head.state_dict() should be a dict of tensors, got {kind_of(state)}")
    want = {"classifier.weight": (NUM_LABELS, 24), "classifier.bias": (NUM_LABELS,)}
    got = {name: tuple(t.shape) for name, t in state.items()}
    expect(got == want, f"TokenClassificationHead(24, {NUM_LABELS}) should have exactly the parameters {want}, "
                        f"got {got}: one nn.Linear named classifier (dropout has none)")


@pytest.mark.points(2)
def test_head_output_with_copied_weights(student, reference, generator, device):
    d_model = 24
    weights = head_weights(generator, d_model, NUM_LABELS)
    mine = loaded_head(student, weights, d_model, NUM_LABELS, device)
    ref = loaded_head(reference, weights, d_model, NUM_LABELS, device)
    for shape in [(2, 5, d_model), (3, 1, d_model), (1, 12, d_model)]:
        hidden = torch.randn(shape, generator=generator).to(device)
        expect_close(mine(hidden), ref(hidden), f"head(hidden of shape {shape}) in eval mode, with the reference's weights",
                     hint="logits are classifier(dropout(hidden)), shape (B, T, num_labels)")


@pytest.mark.points(1)
def test_head_dropout_only_in_training(student, generator, device, seed):
    d_model, hidden = 32, torch.randn(4, 10, 32, generator=generator).to(device)
    student.seed(seed)
    head = student.TokenClassificationHead(d_model, NUM_LABELS, dropout=0.5)
    on_device(head, device)
    head.train()
    logits_shape = (*hidden.shape[:-1], NUM_LABELS)  # pinned before any arithmetic on the output
    trained = expect_tensor(head(hidden), "head(hidden) in training mode", shape=logits_shape, finite=True)
    head.eval()
    first, second = expect_finite(head(hidden), "head(hidden) in eval mode"), head(hidden)
    expect(type(second) is torch.Tensor and torch.equal(first, second),
           "in eval mode two calls on the same hidden states give different logits: dropout must be off after head.eval() "
           "(use nn.Dropout, which eval() switches off)")
    expect(trained.shape == first.shape, f"head(hidden) has shape {tuple(trained.shape)} in training mode "
                                         f"but {tuple(first.shape)} in eval mode")
    expect(not torch.allclose(trained, first),
           "with dropout=0.5 the training-mode logits equal the eval-mode ones: apply self.dropout to the hidden states in forward")
    # Dropout on the logits would zero whole logits; on the hidden states it does not.
    zeroed = ((trained == 0) & (first != 0)).float().mean().item()
    expect(zeroed < 0.05, f"in training mode {zeroed:.0%} of the logits are exactly 0: dropout is applied to the logits; "
                          "apply it to the hidden states, before the classifier")
    plain = student.TokenClassificationHead(d_model, NUM_LABELS, dropout=0.0)
    on_device(plain, device)
    plain.eval()
    at_eval = expect_tensor(plain(hidden), "head(hidden) with dropout=0.0", shape=logits_shape, finite=True)
    plain.train()
    expect_close(plain(hidden), at_eval, "with dropout=0.0, head(hidden) in training mode",
                 hint="the dropout argument should set the dropout probability")


@pytest.mark.points(1)
def test_head_gradients_match_reference(student, reference, generator, device):
    d_model = 16
    weights = head_weights(generator, d_model, NUM_LABELS)
    mine = loaded_head(student, weights, d_model, NUM_LABELS, device)
    ref = loaded_head(reference, weights, d_model, NUM_LABELS, device)
    hidden = torch.randn(2, 6, d_model, generator=generator, dtype=torch.float64).to(device)
    grad = torch.randn(2, 6, NUM_LABELS, generator=generator, dtype=torch.float64).to(device)
    # float64 all the way, so the comparison is tight.
    mine.double()
    ref.double()
    got = vjp(mine, hidden.clone().requires_grad_(), grad_output=grad)
    want = vjp(ref, hidden.clone().requires_grad_(), grad_output=grad)
    expect_close(got.input_grads[0], want.input_grads[0], "the gradient of the logits with respect to hidden")
    for name in ("classifier.weight", "classifier.bias"):
        expect(name in got.param_grads, f"no gradient for {name}: the head has no parameter of that name")
        expect_close(got.param_grads[name], want.param_grads[name], f"the gradient of {name}")


# --------------------------------------------------------------------------- ner_loss


def loss_of(student, logits, labels):
    """``student.ner_loss(logits, labels)``; cross-entropy's class-dimension error gets its fix."""
    try:
        return student.ner_loss(logits, labels)
    except StudentError as exc:
        text = str(exc)
        if "target" in text.lower() and ("size" in text.lower() or "shape" in text.lower()):
            raise CheckFailure(
                f"{text}. F.cross_entropy wants the classes in dim 1: flatten to (B*T, L) and (B*T,) "
                "(logits.reshape(-1, L), labels.reshape(-1)) or transpose(1, 2) to (B, L, T)"
            ) from None
        raise



@pytest.mark.points(2)
def test_loss_matches_reference(student, reference, generator, device):
    cases = [
        ("logits (2, 7, 9) with 40% of labels -100", torch.randn(2, 7, NUM_LABELS, generator=generator) * 2,
         random_labels(generator, (2, 7))),
        ("logits (3, 5, 9) with most labels -100", torch.randn(3, 5, NUM_LABELS, generator=generator),
         random_labels(generator, (3, 5), ignore_fraction=0.8)),
        ("float64 logits (4, 6, 9)", torch.randn(4, 6, NUM_LABELS, generator=generator, dtype=torch.float64) * 3,
         random_labels(generator, (4, 6))),
        ("equal logits (the loss is log 9 whatever is ignored)", torch.zeros(2, 4, NUM_LABELS),
         random_labels(generator, (2, 4), ignore_fraction=0.5)),
    ]
    for what, logits, labels in cases:
        logits, labels = logits.to(device), labels.to(device)
        mistakes = reference.diagnose(lambda ns: ns.ner_loss(logits, labels))
        expected = reference.ner_loss(logits, labels)
        loss = loss_of(student, logits, labels)
        expect_own_precision(loss, expected, f"ner_loss for {what}", "the logits")
        got = expect_close(loss, expected, f"ner_loss for {what}", mistakes=mistakes,
                           hint="ner_loss should be the mean cross-entropy over the positions whose label is not -100")
        # The exercise's one dtype check ("a scalar tensor in the logits' dtype"): values
        # elsewhere are compared after a cast to a common dtype.
        expect_tensor(got, f"ner_loss for {what}", dtype=logits.dtype)


@pytest.mark.points(2)
def test_loss_ignores_positions_labelled_minus_100(student, reference, generator, device):
    logits = (torch.randn(3, 8, NUM_LABELS, generator=generator, dtype=torch.float64) * 2).to(device)
    labels = random_labels(generator, (3, 8)).to(device)
    ignored = labels == IGNORE
    mistakes = reference.diagnose(lambda ns: ns.ner_loss(logits, labels))
    base = expect_close(loss_of(student, logits, labels), reference.ner_loss(logits, labels), "ner_loss", mistakes=mistakes)
    # Any logits at ignored positions: the loss must not move.
    changed = logits.clone()
    changed[ignored] = torch.randn(int(ignored.sum()), NUM_LABELS, generator=generator, dtype=torch.float64).to(device) * 10
    expect_close(student.ner_loss(changed, labels), base,
                 "ner_loss after changing only the logits at positions labelled -100",
                 hint="positions labelled -100 must not affect the loss")
    got = vjp(student.ner_loss, logits.clone().requires_grad_(), labels, grad_output=torch.ones((), dtype=torch.float64).to(device))
    grad = expect_finite(got.input_grads[0], "the gradient of ner_loss with respect to the logits")
    leak = grad[ignored].abs().max().item() if bool(ignored.any()) else 0.0
    expect(leak == 0.0, f"the gradient of ner_loss is non-zero (up to {leak:.3g}) at positions labelled -100: "
                        "they must get no gradient")
    want = vjp(reference.ner_loss, logits.clone().requires_grad_(), labels, grad_output=torch.ones((), dtype=torch.float64).to(device))
    # A loss computed in float32 (cast back or not) costs test_loss_matches_reference's dtype
    # check, not this too.
    expect_close(grad, want.input_grads[0], "the gradient of ner_loss with respect to the logits",
                 precision=output_dtypes(got.output, want.output))


# --------------------------------------------------------------------------- bio_to_spans


@pytest.mark.points(2)
def test_bio_to_spans_well_formed(student, reference, generator):
    sequences = [
        ["B-PER", "I-PER", "O", "B-LOC", "O"],
        ["O", "O", "B-ORG", "I-ORG", "I-ORG", "O", "B-MISC", "O"],
        ["B-LOC", "O", "B-LOC", "I-LOC", "O"],
        ["O", "O", "O"],
        [],
    ]
    expect_same_lists(spans_cases(student, reference, generator, sequences))


@pytest.mark.points(1)
def test_bio_to_spans_entity_at_the_end(student, reference, generator):
    sequences = [
        ["O", "B-PER", "I-PER"],
        ["B-MISC"],
        ["B-ORG", "O", "B-LOC"],
        ["O", "B-LOC", "I-LOC", "I-LOC"],
    ]
    expect_same_lists(spans_cases(student, reference, generator, sequences))


@pytest.mark.points(2)
def test_bio_to_spans_i_without_b(student, reference, generator):
    # conlleval: an I- that does not continue an entity of its own type starts one.
    sequences = [
        ["O", "I-ORG", "I-ORG", "O"],
        ["I-LOC", "O"],
        ["B-PER", "I-LOC", "I-LOC", "O"],
        ["B-PER", "O", "I-PER", "O"],
        ["B-ORG", "I-ORG", "I-PER", "O", "I-MISC", "O"],
    ]
    expect_same_lists(spans_cases(student, reference, generator, sequences))


@pytest.mark.points(1)
def test_bio_to_spans_adjacent_entities(student, reference, generator):
    sequences = [
        ["B-PER", "B-PER", "I-PER", "O"],
        ["B-LOC", "I-LOC", "B-LOC", "O"],
        ["B-ORG", "B-MISC", "O"],
    ]
    expect_same_lists(spans_cases(student, reference, generator, sequences))


# --------------------------------------------------------------------------- training

STEPS, LR = 80, 1.0
EMBED = 32  # width of each of the three blocks of a feature vector
TYPE_SIGNAL = 0.5  # how strongly the stand-in encoder's features carry the entity type
F1_MARGIN = 0.10  # a correct head trained with Adam instead of plain descent lands within ~0.08
ENTITY_TYPES = ("O", "PER", "LOC", "ORG", "MISC")


def _frozen_features(split, table, type_vectors, reference):
    """Stand-in for a frozen pretrained encoder, built here in the grader.

    A token's vector is a fixed random embedding of its GPT-2 id plus a noisy signal of
    its word's entity type (what a pretrained encoder's hidden states carry); its feature
    is [own, previous token's, next token's] vector, so a linear head sees some context.
    Labels are aligned with the reference's align_labels (so this check depends on your
    head, ner_loss and train_head only). Returns sentences, features (B, T, 3*EMBED)
    and labels (B, T), padded with zeros and -100.
    """
    sentences = ner_split(split)
    encodings = [encode_words(s.words, special_tokens=True) for s in sentences]
    lengths = torch.tensor([len(e.ids) for e in encodings])
    B, T = len(sentences), int(lengths.max())
    real = torch.arange(T) < lengths[:, None]  # (B, T)
    # One reference call for the whole split: sentences joined, word ids made distinct.
    joined_ids, joined_labels, kinds, offset = [], [], [], 0
    for s, e in zip(sentences, encodings):
        joined_ids += [None if w is None else w + offset for w in e.word_ids]
        joined_labels += label_ids(s.tags)
        kinds += [0 if w is None else ENTITY_TYPES.index(s.tags[w].rpartition("-")[2]) for w in e.word_ids]
        offset += len(s.words)
    aligned = as_int_list(reference.align_labels(joined_ids, joined_labels), "the reference align_labels")
    expect(len(aligned) == len(joined_ids), "the reference align_labels returned one label per token")
    token_ids = torch.tensor([i for e in encodings for i in e.ids])
    vectors = torch.zeros(B, T, EMBED)
    vectors[real] = table[token_ids] + TYPE_SIGNAL * type_vectors[torch.tensor(kinds)]  # (B, T, E)
    previous = torch.nn.functional.pad(vectors, (0, 0, 1, 0))[:, :T]  # token t-1 (zeros at t=0)
    following = torch.nn.functional.pad(vectors, (0, 0, 0, 1))[:, 1:]  # token t+1 (zeros past the end)
    features = torch.cat([vectors, previous, following], dim=-1) * real[..., None]  # (B, T, 3E)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    labels[real] = torch.tensor(aligned)
    return sentences, features, labels


def _strict_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    # Scoring only (strict IOB2, as seqeval's strict mode): an entity is B-X then I-X*.
    spans, i = set(), 0
    while i < len(tags):
        if tags[i].startswith("B-"):
            j = i + 1
            while j < len(tags) and tags[j] == "I-" + tags[i][2:]:
                j += 1
            spans.add((tags[i][2:], i, j))
            i = j
        else:
            i += 1
    return spans


def entity_f1(sentences, labels, logits) -> float:
    """Micro entity F1 of the predictions at each word's first sub-word."""
    predicted = logits.argmax(dim=-1).cpu()
    hits = n_pred = n_gold = 0
    for b, s in enumerate(sentences):
        positions = (labels[b] != IGNORE).nonzero().squeeze(1)
        tags = [NER_LABELS[int(predicted[b, p])] for p in positions]
        gold, pred = _strict_spans(s.tags), _strict_spans(tags)
        hits, n_pred, n_gold = hits + len(gold & pred), n_pred + len(pred), n_gold + len(gold)
    if hits == 0:
        return 0.0
    precision, recall = hits / n_pred, hits / n_gold
    return 2 * precision * recall / (precision + recall)


def _train_and_score(ns, seed, device, train, test, role: str) -> tuple[float, list]:
    _, train_x, train_y = train
    test_sentences, test_x, test_y = test
    ns.seed(seed)
    head = ns.TokenClassificationHead(3 * EMBED, NUM_LABELS, dropout=0.0)
    on_device(head, device)
    losses = ns.train_head(head, train_x.to(device), train_y.to(device), steps=STEPS, lr=LR)
    head.eval()
    logits = expect_finite(head(test_x.to(device)), f"{role} head's logits on the test split after train_head")
    expect(logits.shape == (*test_x.shape[:2], NUM_LABELS),
           f"{role} head's logits on the test split have shape {tuple(logits.shape)}, expected {(*test_x.shape[:2], NUM_LABELS)}")
    return entity_f1(test_sentences, test_y, logits), losses


@pytest.mark.points(3)
def test_training_reaches_reference_f1(student, reference, seed, device):
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(50257, EMBED, generator=generator)
    type_vectors = torch.randn(len(ENTITY_TYPES), EMBED, generator=generator)
    train = _frozen_features("train", table, type_vectors, reference)
    test = _frozen_features("test", table, type_vectors, reference)
    f1, losses = _train_and_score(student, seed, device, train, test, "your")
    ref_f1, ref_losses = _train_and_score(reference, seed, device, train, test, "the reference")
    expect(type(losses) in (list, tuple) and len(losses) == STEPS and all(type(v) is float for v in losses),
           f"train_head(..., steps={STEPS}) should return {STEPS} losses as Python floats (loss.item()), "
           f"got {kind_of(losses)}: {_short(losses, 120)}")
    expect(all(math.isfinite(v) for v in losses), f"train_head's losses are not all finite: {_short(losses, 160)}")
    expect(losses[-1] < 0.7 * losses[0],
           f"train_head's loss went from {losses[0]:.3f} to only {losses[-1]:.3f} in {STEPS} steps "
           f"(the reference's falls well below 70% of where it starts): are the head's parameters being updated?")
    expect(f1 >= ref_f1 - F1_MARGIN,
           f"after train_head your head's entity F1 on the test split is {f1:.3f}; the reference reaches {ref_f1:.3f} "
           f"from the same features and seed (at least {ref_f1 - F1_MARGIN:.3f} passes). Check that ner_loss ignores "
           f"the -100 labels and that train_head takes a gradient step on ner_loss every step")
    # The same head, seed, features and update as the reference: the same loss at every
    # step, up to float rounding. (An F1 near the reference's alone lets through a loop
    # that never zeroes the gradients.)
    ref_losses = [float(v) for v in ref_losses]
    close = lambda got, want: abs(got - want) <= 1e-3 + 1e-2 * abs(want)  # noqa: E731
    # Each loss the reference's of the next step: recorded after the update, not before it.
    late = len(losses) > 1 and all(close(got, want) for got, want in zip(losses, ref_losses[1:]))
    for step, (got, want) in enumerate(zip(losses, ref_losses)):
        expect(close(got, want),
               f"train_head's loss at step {step} is {got:.4f}, the reference's {want:.4f} (same head, seed and "
               f"features; losses {_short(losses, 80)}, the reference's {_short(ref_losses, 80)}). "
               + ("Each of your losses is the reference's of the next step: record loss.item() of the logits the step "
                  "started from, before the update" if late else
                  "The very first loss differs: train_head should compute ner_loss of the head's logits (if your "
                  "ner_loss or TokenClassificationHead fail their own checks, fix those first)" if step == 0 else
                  "Each step should be logits, ner_loss, head.zero_grad(), loss.backward(), p -= lr * p.grad "
                  "(plain SGD, no other optimizer): without zero_grad the gradients of earlier steps pile up. If your "
                  "loop is that, look at ner_loss (does it pass test_loss_matches_reference?) and at the head: with "
                  "dropout=0.0 (as here) it must give the same logits every call in training mode too (see "
                  "test_head_dropout_only_in_training)"))
    # The run above uses lr=1.0, where p -= p.grad is p -= lr * p.grad: a few steps at
    # another rate tell them apart.
    few = slice(0, 64)
    short = _few_steps(student, seed, device, train[1][few], train[2][few], SHORT_LR)
    ref_short = [float(v) for v in _few_steps(reference, seed, device, train[1][few], train[2][few], SHORT_LR)]
    for step, (got, want) in enumerate(zip(short, ref_short)):
        expect(type(got) is float and abs(got - want) <= 1e-3 + 1e-2 * abs(want),
               f"with lr={SHORT_LR}, train_head's loss at step {step} is "
               f"{f'{got:.4f}' if type(got) is float else _short(got, 40)}, the reference's {want:.4f} "
               f"(with lr=1.0 they agree): the update should scale the gradient by lr (p -= lr * p.grad)")


SHORT_LR = 0.25


def _few_steps(ns, seed, device, x, y, lr: float) -> list:
    ns.seed(seed)
    head = ns.TokenClassificationHead(3 * EMBED, NUM_LABELS, dropout=0.0)
    on_device(head, device)
    losses = ns.train_head(head, x.to(device), y.to(device), steps=3, lr=lr)
    expect(type(losses) in (list, tuple), f"train_head(..., steps=3) should return a list of losses, got {kind_of(losses)}")
    return list(losses)
