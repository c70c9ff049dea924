"""The NER exercise's data: its label set, the course's CoNLL corpus, and GPT-2 tokens of words.

Only ner_head's checks (visible and hidden) use this module, on the trusted side; a
submission never needs it. The corpus is ``<data>/ner/{train,test}.conll`` in the course's
one data folder (:func:`grader.data.data_dir`), and problems raise
:class:`grader.data.DataError` with a one-line message. :func:`read_conll` reads any
CoNLL file, so a course can swap in its own.

Words and GPT-2: the tokenizer is byte-level, and a GPT-2 token carries the space that
precedes it (``"Ġam"`` is `` am``). :func:`encode_words` gives every word after the first
a leading space before encoding the pre-split words, so the tokens are exactly those of
``" ".join(words)`` in running text, and ``word_ids`` says which word each token came from.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from grader.data import (END_OF_TEXT, END_OF_TEXT_ID, DataError, data_dir, gpt2_tokenizer, gpt2_tokenizer_folder,
                         shared_gpt2_tokenizer)

# The label set of the NER exercise, in a fixed order (label id = index).
NER_LABELS: tuple[str, ...] = (
    "O",
    "B-PER", "I-PER",
    "B-LOC", "I-LOC",
    "B-ORG", "I-ORG",
    "B-MISC", "I-MISC",
)  # fmt: skip

_TAG = re.compile(r"^(O|[BI]-[A-Za-z][A-Za-z0-9_]*)$")


# --------------------------------------------------------------------------- words -> GPT-2 tokens


def shared_tokenizers(folder: str | None = None):
    """(plain, wrapped in <|endoftext|>) tokenizers for encode_words, built once per folder
    (default: the data folder's gpt2_tokenizer). Shared: never modify them."""
    return _tokenizers_in(str(gpt2_tokenizer_folder(folder)))


@functools.lru_cache(maxsize=4)
def _tokenizers_in(folder: str):
    from tokenizers import processors

    plain = shared_gpt2_tokenizer(folder)
    wrapped = gpt2_tokenizer(folder)
    wrapped.post_processor = processors.TemplateProcessing(
        single=f"{END_OF_TEXT} $A {END_OF_TEXT}",
        special_tokens=[(END_OF_TEXT, END_OF_TEXT_ID)],
    )
    return plain, wrapped


@dataclass(frozen=True)
class WordEncoding:
    """Tokens of a pre-split sentence and the word each came from (None: a special token)."""

    ids: list[int]
    tokens: list[str]
    word_ids: list[int | None]


def encode_words(words: list[str], special_tokens: bool = False, folder: str | Path | None = None) -> WordEncoding:
    """Encode pre-split ``words`` with GPT-2, keeping track of words (``encoding.word_ids``).

    Every word after the first gets a leading space, so the ids are exactly those of
    ``" ".join(words)``: GPT-2 was trained on running text, where a word inside a
    sentence is ``"Ġword"``, not ``"word"``. With ``special_tokens`` the sentence is
    wrapped in ``<|endoftext|>`` at both ends (word id None), like the [CLS]/[SEP] of
    encoders that have them.
    """
    if not words:
        raise DataError("encode_words: a sentence needs at least one word")
    ids, tokens, word_ids = _encoded(tuple(words), special_tokens, str(gpt2_tokenizer_folder(folder)))
    return WordEncoding(list(ids), list(tokens), list(word_ids))


@functools.lru_cache(maxsize=16384)  # the course corpus, both ways, is ~1,600 sentences
def _encoded(words: tuple[str, ...], special_tokens: bool, folder: str) -> tuple[tuple, tuple, tuple]:
    plain, wrapped = shared_tokenizers(folder)
    spaced = [words[0]] + [" " + w for w in words[1:]]
    encoding = (wrapped if special_tokens else plain).encode(spaced, is_pretokenized=True)
    return tuple(encoding.ids), tuple(encoding.tokens), tuple(encoding.word_ids)


def preload_corpus() -> None:
    """Read and encode the course's NER corpus once in this process (ExerciseSpec.check_preloads:
    a batch slot does it before forking a process per submission)."""
    for split in ("train", "test"):
        for sentence in ner_split(split):
            encode_words(sentence.words)
            encode_words(sentence.words, special_tokens=True)


# --------------------------------------------------------------------------- CoNLL


@dataclass
class Sentence:
    """One sentence of a CoNLL file: its words and their tags (same length)."""

    words: list[str]
    tags: list[str]

    def __post_init__(self) -> None:
        if len(self.words) != len(self.tags):
            raise DataError(f"a sentence has {len(self.words)} words but {len(self.tags)} tags")


def read_conll(path: str | Path) -> list[Sentence]:
    """Read a CoNLL file: one token a line, columns separated by whitespace.

    The word is the first column and the tag the last (so both the two-column form and
    CoNLL-2003's ``word POS chunk tag`` work). Blank lines end sentences; ``-DOCSTART-``
    lines are skipped. Tags must be ``O``, ``B-TYPE`` or ``I-TYPE``. Any problem raises
    :class:`DataError` with a one-line message naming the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such CoNLL file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        columns = line.split()
        if not columns:
            if words:
                sentences.append(Sentence(words, tags))
                words, tags = [], []
            continue
        if columns[0] == "-DOCSTART-":
            continue
        if len(columns) < 2:
            raise DataError(f"{path}:{lineno}: expected a word and a tag separated by whitespace, got {line.strip()!r}")
        tag = columns[-1]
        if not _TAG.match(tag):
            raise DataError(f"{path}:{lineno}: {tag!r} is not a BIO tag (O, B-TYPE or I-TYPE)")
        words.append(columns[0])
        tags.append(tag)
    if words:
        sentences.append(Sentence(words, tags))
    if not sentences:
        raise DataError(f"{path}: no sentences found (an empty CoNLL file?)")
    return sentences


def ner_split(split: str) -> list[Sentence]:
    """The course's NER corpus: ``"train"`` or ``"test"`` from ``<data>/ner/``."""
    if split not in ("train", "test"):
        raise DataError(f"unknown NER split {split!r}: use 'train' or 'test'")
    # Read once per process; every caller gets its own Sentence objects.
    return [Sentence(list(words), list(tags)) for words, tags in _read_split(str(data_dir() / "ner" / f"{split}.conll"))]


@functools.lru_cache(maxsize=4)
def _read_split(path: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    return tuple((tuple(s.words), tuple(s.tags)) for s in read_conll(path))


def label_ids(tags: list[str], labels: tuple[str, ...] = NER_LABELS) -> list[int]:
    """Tags -> label ids in ``labels``; an unknown tag raises DataError."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({t for t in tags if t not in index})
    if unknown:
        raise DataError(f"tags {', '.join(unknown)} are not in the label set ({', '.join(labels)})")
    return [index[t] for t in tags]


__all__ = [
    "NER_LABELS",
    "Sentence",
    "WordEncoding",
    "encode_words",
    "label_ids",
    "ner_split",
    "read_conll",
]
