"""Wrong: every sub-word of a word gets the word's label."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def align_labels(word_ids, word_labels):
    out = []
    for i, w in enumerate(word_ids):
        first = w is not None
        out.append(word_labels[w] if first else -100)
    return out


class TokenClassificationHead(nn.Module):
    def __init__(self, d_model, num_labels, dropout=0.1):
        super().__init__()
        self.drop = nn.Dropout(p=dropout)
        self.classifier = nn.Linear(d_model, num_labels)

    def forward(self, hidden):
        return self.classifier(self.drop(hidden))


def ner_loss(logits, labels):
    return F.cross_entropy(logits.flatten(0, -2), labels.flatten(), ignore_index=-100)


def bio_to_spans(tags):
    spans = []
    for i, tag in enumerate(tags):
        kind = tag[2:]
        previous = tags[i - 1] if i > 0 else "O"
        if tag.startswith("B-") or (tag.startswith("I-") and previous[2:] != kind):
            spans.append([kind, i, i + 1])
        elif tag.startswith("I-"):
            spans[-1][2] = i + 1
    return [tuple(s) for s in spans]


def train_head(head, features, labels, steps=100, lr=1.0):
    optimizer = torch.optim.SGD(head.parameters(), lr=lr)
    head.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ner_loss(head(features), labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return losses
