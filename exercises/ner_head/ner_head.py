"""Exercise 5 — NER head (course section 5: "Token classification: named-entity recognition").

Named-entity recognition labels each *word* of a sentence with a BIO tag: ``B-X`` begins
an entity of type X, ``I-X`` continues it, ``O`` is outside any entity. Our types are
PER, LOC, ORG and MISC (as in CoNLL-2003), so there are 9 labels, numbered in the
order ``O, B-PER, I-PER, B-LOC, I-LOC, B-ORG, I-ORG, B-MISC, I-MISC``::

    words   Ingrid  Kowalczyk  visited  Reykjavik  .
    tags    B-PER   I-PER      O        B-LOC      O

An encoder (GPT-2's, later in the course) does not see words but sub-word *tokens*:
``Kowalczyk`` is ``ĠK ow al c zyk``. A tokenizer's encoding of pre-split words says
which word each token came from (``encoding.word_ids``; None for a special token such as
``<|endoftext|>``). Five parts:

1. ``align_labels(word_ids, word_labels) -> list[int]``: one label per token. The
   **first** sub-word of each word gets the word's label; every other sub-word of that
   word, and every special token (word id None), gets ``-100``, the index the loss
   ignores. (Each word is then counted once in the loss, however many pieces it has.)
   ``word_ids`` never interleaves words: a word's tokens are consecutive.

   "Ingrid Kowalczyk visited Reykjavik ." wrapped in ``<|endoftext|>``, labels
   B-PER I-PER O B-LOC O (ids 1, 2, 0, 3, 0)::

       token          <|endoftext|>  Ing  rid  ĠK  ow al c zyk  Ġvisited  ĠRey  kj av ik  Ġ.  <|endoftext|>
       word id        None           0    0    1   1  1  1 1    2         3     3  3  3   4   None
       label          -100           1    -100 2   -100 (x4)    0         3     -100 (x3) 0   -100

       align_labels([None, 0, 0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, None], [1, 2, 0, 3, 0])
       == [-100, 1, -100, 2, -100, -100, -100, -100, 0, 3, -100, -100, -100, 0, -100]

2. ``class TokenClassificationHead(nn.Module)``: ``__init__(d_model, num_labels,
   dropout=0.1)`` creates ``self.dropout = nn.Dropout(dropout)`` and
   ``self.classifier = nn.Linear(d_model, num_labels)`` (exactly these parameters:
   ``classifier.weight`` and ``classifier.bias``). ``forward(hidden)`` takes encoder
   hidden states (B, T, d_model) and returns logits (B, T, num_labels): dropout on the
   hidden states, then the classifier. In eval mode (``head.eval()``) dropout is off.

3. ``ner_loss(logits, labels) -> Tensor``: the cross-entropy of logits (B, T, num_labels)
   against labels (B, T) (integer, ``-100`` where nothing is to be predicted), averaged
   over the positions whose label is **not** -100: ignored positions add nothing to the
   loss, to its denominator, or to the gradient. A scalar tensor in the logits' dtype.
   ``F.cross_entropy`` may be used (read its ``ignore_index`` argument), or write it with
   ``log_softmax``. (If every label is -100 the mean is undefined: NaN, as in PyTorch.)

4. ``bio_to_spans(tags) -> list[tuple[str, int, int]]``: the entities of a tag sequence
   as ``(type, start, end)`` with ``end`` **exclusive** (``tags[start:end]`` is the
   entity), in order of ``start``. We follow the conlleval script of CoNLL-2003:

   - ``B-X`` always starts a new entity (even right after another X entity);
   - ``I-X`` continues the entity before it if that entity has type X; otherwise (after
     ``O``, at the start, or after an entity of another type) it starts a new X entity;
   - ``O`` ends the current entity, and so does the end of the sequence: an entity on
     the last tag is an entity too.

       bio_to_spans(["B-PER", "I-PER", "O", "B-LOC"])       == [("PER", 0, 2), ("LOC", 3, 4)]
       bio_to_spans(["O", "I-ORG", "I-ORG", "B-ORG"])       == [("ORG", 1, 3), ("ORG", 3, 4)]
       bio_to_spans(["B-PER", "I-LOC"])                     == [("PER", 0, 1), ("LOC", 1, 2)]

5. ``train_head(head, features, labels, steps=100, lr=1.0) -> list[float]``: train the
   head on frozen features (B, T, d_model) with labels (B, T) (already aligned, with
   -100s) by plain full-batch gradient descent: ``head.train()``, then for each step:
   logits, ``loss = ner_loss(logits, labels)``, ``head.zero_grad()``, ``loss.backward()``,
   and under ``torch.no_grad()`` ``p -= lr * p.grad`` for every parameter (that is the
   update ``torch.optim.SGD(head.parameters(), lr=lr)`` makes; you may use it). Return the
   loss of every step as a Python float (``loss.item()``). The grader trains your head on
   features of the course's NER corpus (data/ner) and measures its entity F1 on the test
   split: it should come close to the reference's.

Check your work with ``grade exercise ner_head``.
"""

import torch
import torch.nn as nn
from torch import Tensor

IGNORE_INDEX = -100  # the label that ner_loss ignores


def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    # word_ids: (T,) one per token, None for special tokens; word_labels: one per word
    raise NotImplementedError("align_labels: label the first sub-word of each word, -100 elsewhere")


class TokenClassificationHead(nn.Module):
    def __init__(self, d_model: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        raise NotImplementedError("TokenClassificationHead: create self.dropout and self.classifier")

    def forward(self, hidden: Tensor) -> Tensor:
        # hidden: (B, T, C) -> logits: (B, T, num_labels)
        raise NotImplementedError("TokenClassificationHead.forward: dropout, then the classifier")


def ner_loss(logits: Tensor, labels: Tensor) -> Tensor:
    # logits: (B, T, L), labels: (B, T) -> scalar: mean cross-entropy over labels != -100
    raise NotImplementedError("ner_loss: cross-entropy that ignores the -100 labels")


def bio_to_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    # tags: ["B-PER", "I-PER", "O", ...] -> [(type, start, end_exclusive), ...]
    raise NotImplementedError("bio_to_spans: decode BIO tags into (type, start, end) entities")


def train_head(head: nn.Module, features: Tensor, labels: Tensor, steps: int = 100, lr: float = 1.0) -> list[float]:
    # features: (B, T, C) frozen; labels: (B, T) with -100 -> one loss per step
    raise NotImplementedError("train_head: full-batch gradient descent on ner_loss for `steps` steps")
