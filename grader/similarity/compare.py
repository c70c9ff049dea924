"""Which submissions of one exercise share fingerprints, and how much.

Only pairs that share a fingerprint are ever looked at: an inverted index maps each
fingerprint to the submissions holding it, so the work grows with the matches, not with
the n*(n-1)/2 pairs of a class. Two kinds of fingerprint never count:

- the stub's (removed before, in ``fingerprint``): everyone starts from it;
- common ones, found in more than ``common_limit`` submissions (MOSS's ``-m``): an idiom
  half the class writes (``e / e.sum(dim, keepdim=True)``) says nothing about copying,
  and would otherwise pair everyone with everyone.

A pair's similarity is asymmetric: the share of A's counted fingerprints that B also has,
and the other way round, so that a short file copied into a long one shows as 100%.

The common rule cannot tell an idiom from one file passed round more than
``common_limit`` students: such a ring's fingerprints are all common and it would vanish.
So files with the very same fingerprints (names and layout aside) are also grouped, and
a group larger than the limit is listed as a group (``Comparison.groups``), not as its
n*(n-1)/2 pairs.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from grader.similarity.fingerprint import Fingerprint

MIN_COMMON_LIMIT = 10  # MOSS's default for -m
COMMON_SHARE = 0.05  # in a large class: a fingerprint in more than 5% of it is common
MIN_SHARED = 2  # one shared fingerprint (two lines) is a coincidence, not a pair worth listing


@dataclass(frozen=True)
class Document:
    """One student's file for one exercise: its text (for showing) and fingerprint."""

    student: str
    source: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Pair:
    exercise: str
    student_a: str
    student_b: str
    similarity_a: float  # share of A's counted fingerprints that B has too
    similarity_b: float
    shared: int  # fingerprints they share

    @property
    def similarity(self) -> float:
        return max(self.similarity_a, self.similarity_b)


@dataclass
class Comparison:
    """Every pair of one exercise's documents worth listing, most similar first."""

    exercise: str
    documents: dict[str, Document] = field(default_factory=dict)  # student -> document
    common: set[int] = field(default_factory=set)
    pairs: list[Pair] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)  # identical files, more than the common limit, largest first

    def shared_lines(self, pair: Pair) -> tuple[set[int], set[int]]:
        """The lines of A and of B covered by the fingerprints they share (to highlight)."""
        a = self.documents[pair.student_a].fingerprint.spans
        b = self.documents[pair.student_b].fingerprint.spans
        shared = (a.keys() & b.keys()) - self.common
        return _lines(a, shared), _lines(b, shared)


def _lines(spans: dict[int, list[tuple[int, int]]], hashes: set[int]) -> set[int]:
    lines: set[int] = set()
    for h in hashes:
        for first, last in spans[h]:
            lines.update(range(first, last + 1))
    return lines


def common_limit_for(students: int) -> int:
    """How many submissions may hold a fingerprint before it is common."""
    return max(MIN_COMMON_LIMIT, int(students * COMMON_SHARE))


def compare(exercise: str, documents: list[Document], common_limit: int | None = None,
            min_shared: int = MIN_SHARED) -> Comparison:  # fmt: skip
    """The pairs among ``documents`` (one per student) that share at least ``min_shared``
    counted fingerprints, sorted most similar first."""
    limit = common_limit_for(len(documents)) if common_limit is None else common_limit
    index: dict[int, list[int]] = {}
    for i, doc in enumerate(documents):
        for h in doc.fingerprint.spans:
            index.setdefault(h, []).append(i)
    common = {h for h, holders in index.items() if len(holders) > limit}
    counted = [len(doc.fingerprint.spans.keys() - common) for doc in documents]
    shared: Counter = Counter()
    for h, holders in index.items():
        if len(holders) < 2 or h in common:
            continue
        shared.update(itertools.combinations(holders, 2))  # holders are in document order
    pairs = []
    for (i, j), count in shared.items():
        if count < min_shared:
            continue
        a, b = documents[i], documents[j]
        pairs.append(Pair(exercise, a.student, b.student, count / counted[i], count / counted[j], count))
    pairs.sort(key=lambda p: (-p.similarity, -p.shared, p.student_a, p.student_b))
    return Comparison(exercise, {d.student: d for d in documents}, common, pairs, _identical(documents, limit, min_shared))


def _identical(documents: list[Document], limit: int, min_shared: int) -> list[list[str]]:
    """Groups of more than ``limit`` documents with the same fingerprints (at least ``min_shared``)."""
    same: dict[frozenset[int], list[str]] = {}
    for doc in documents:
        if len(doc.fingerprint.spans) >= min_shared:
            same.setdefault(frozenset(doc.fingerprint.spans), []).append(doc.student)
    groups = [sorted(students) for students in same.values() if len(students) > limit]
    return sorted(groups, key=lambda g: (-len(g), g[0]))
