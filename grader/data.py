"""The course's shared data: the GPT-2 tokenizer and the NER corpus, and how to read them.

Everything lives in the repository's ``data/`` folder (made by ``data/make_data.py``);
point ``GRADER_DATA_DIR`` at another folder with the same layout to use other files:

    data/gpt2_tokenizer/encoder.json, vocab.bpe   the real GPT-2 byte-level BPE files
    data/ner/train.conll, test.conll             a small CoNLL corpus, BIO tags PER/LOC/ORG/MISC

This module runs in the trusted grader (checks use it to build inputs); submissions
never need it. :func:`read_conll` reads any CoNLL file, so a course can swap in its own.

Words and GPT-2: the tokenizer is byte-level, and a GPT-2 token carries the space that
precedes it (``"Ġam"`` is `` am``). :func:`encode_words` gives every word after the first
a leading space before encoding the pre-split words, so the tokens are exactly those of
``" ".join(words)`` in running text, and ``word_ids`` says which word each token came from.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

# The repository's data/ folder, unless GRADER_DATA_DIR says otherwise (read on each
# call, see data_dir()).
REPO_DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# GPT-2's only special token; it doubles as beginning and end of text.
END_OF_TEXT = "<|endoftext|>"
END_OF_TEXT_ID = 50256

# The label set of the NER exercise, in a fixed order (label id = index).
NER_LABELS: tuple[str, ...] = (
    "O",
    "B-PER", "I-PER",
    "B-LOC", "I-LOC",
    "B-ORG", "I-ORG",
    "B-MISC", "I-MISC",
)  # fmt: skip

_TAG = re.compile(r"^(O|[BI]-[A-Za-z][A-Za-z0-9_]*)$")


class DataError(ValueError):
    """A data file is missing or malformed; the message is one line and names the file."""


def data_dir() -> Path:
    """The data folder now: ``GRADER_DATA_DIR`` if set, else the repository's data/."""
    return Path(os.environ.get("GRADER_DATA_DIR") or REPO_DATA_DIR)


# --------------------------------------------------------------------------- tokenizer


def gpt2_tokenizer(folder: str | Path | None = None):
    """The real GPT-2 tokenizer as a ``tokenizers.Tokenizer`` (a fresh object each call).

    Byte-level BPE built from ``encoder.json`` and ``vocab.bpe`` in ``folder`` (default
    ``<data>/gpt2_tokenizer``), with GPT-2's pre-tokenizer and decoder and no prefix
    space: ``gpt2_tokenizer().encode("Hello, I am").ids == [15496, 11, 314, 716]``.
    ``<|endoftext|>`` (50256) is registered as a special token, as in GPT-2; no
    post-processor adds it anywhere.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    folder = Path(folder) if folder is not None else data_dir() / "gpt2_tokenizer"
    vocab, merges = folder / "encoder.json", folder / "vocab.bpe"
    for path in (vocab, merges):
        if not path.is_file():
            raise DataError(f"{path}: GPT-2 tokenizer file not found (run data/make_data.py, or set GRADER_DATA_DIR)")
    try:
        bpe = models.BPE.from_file(str(vocab), str(merges))
    except Exception as exc:  # tokenizers raises its own exception types
        raise DataError(f"{folder}: cannot read the GPT-2 tokenizer files: {exc}") from None
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(END_OF_TEXT, special=True)])
    return tokenizer


@functools.lru_cache(maxsize=4)
def _shared_tokenizers(folder: str):
    """(plain, wrapped in <|endoftext|>) tokenizers for encode_words; built once per folder."""
    from tokenizers import processors

    plain = gpt2_tokenizer(folder)
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
    folder = str(Path(folder) if folder is not None else data_dir() / "gpt2_tokenizer")
    plain, wrapped = _shared_tokenizers(folder)
    spaced = [words[0]] + [" " + w for w in words[1:]]
    encoding = (wrapped if special_tokens else plain).encode(spaced, is_pretokenized=True)
    return WordEncoding(list(encoding.ids), list(encoding.tokens), list(encoding.word_ids))


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
    return read_conll(data_dir() / "ner" / f"{split}.conll")


def label_ids(tags: list[str], labels: tuple[str, ...] = NER_LABELS) -> list[int]:
    """Tags -> label ids in ``labels``; an unknown tag raises DataError."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({t for t in tags if t not in index})
    if unknown:
        raise DataError(f"tags {', '.join(unknown)} are not in the label set ({', '.join(labels)})")
    return [index[t] for t in tags]


__all__ = [
    "NER_LABELS",
    "DataError",
    "Sentence",
    "WordEncoding",
    "data_dir",
    "encode_words",
    "gpt2_tokenizer",
    "label_ids",
    "ner_split",
    "read_conll",
]
