"""A student attempt, based on a finished exercise: a token-classification (NER) head, label alignment, masked loss, BIO decoding."""

import torch
import torch.nn as nn
from torch import Tensor

IGNORE_INDEX = -100


def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    # Only the first sub-word of a word is labelled: the word has one label, and counting
    # it once per sub-word would weight long (rare, often entity) words more.
    labels = []
    previous = None
    for word_id in word_ids:
        if word_id is None:
            labels.append(IGNORE_INDEX)
        elif word_id != previous:
            labels.append(word_labels[word_id])
        else:
            labels.append(IGNORE_INDEX)
        previous = word_id
    return labels


class TokenClassificationHead(nn.Module):
    """Dropout, then one linear layer from the encoder's width to the label scores."""

    def __init__(self, d_model: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_labels)

    def forward(self, hidden: Tensor) -> Tensor:
        # hidden: (B, T, C) -> logits: (B, T, num_labels)
        return self.classifier(self.dropout(hidden))


def ner_loss(logits: Tensor, labels: Tensor) -> Tensor:
    # logits: (..., L), labels: (...) with IGNORE_INDEX where nothing is predicted.
    num_labels = logits.size(-1)
    flat_logits = logits.reshape(-1, num_labels)  # (N, L)
    flat_labels = labels.reshape(-1)  # (N,)
    keep = flat_labels != IGNORE_INDEX
    log_probs = torch.log_softmax(flat_logits, dim=-1)
    # -100 is not a valid index: gather at 0 there, then mask the term out.
    safe = flat_labels.masked_fill(~keep, 0)
    picked = log_probs.gather(1, safe.unsqueeze(1)).squeeze(1)  # (N,)
    nll = -(picked * keep.to(picked.dtype))
    return nll.mean()


def bio_to_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    # conlleval: an entity starts at B-X, or at I-X that does not continue an X entity
    # (after O, or after another type); it ends before the next tag that is not I-X.
    spans = []
    kind, start = None, 0
    for i, tag in enumerate(tags):
        prefix, _, tag_type = tag.partition("-")
        continues = prefix == "I" and tag_type == kind
        if kind is not None and not continues:
            spans.append((kind, start, i))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = tag_type, i
    if kind is not None:
        spans.append((kind, start, len(tags)))
    return spans


def train_head(head: nn.Module, features: Tensor, labels: Tensor, steps: int = 100, lr: float = 1.0) -> list[float]:
    # Full-batch gradient descent on frozen features: features (B, T, C), labels (B, T).
    # By hand rather than torch.optim.SGD: the same update, and building a torch.optim
    # optimizer imports torch._dynamo (seconds) in a fresh worker.
    head.train()
    losses = []
    for _ in range(steps):
        loss = ner_loss(head(features), labels)
        head.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in head.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return losses
