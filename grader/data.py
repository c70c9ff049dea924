"""The course's data folder, and the data more than one exercise reads: the GPT-2 tokenizer.

The data folder is one setting: :func:`data_dir`, which is ``GRADER_DATA_DIR`` when that
is set and the repository's (or kit's) ``data/`` folder otherwise (made by
``data/make_data.py`` and ``data/make_tiny_gpt2.py``). Everything that reads course data,
and the jail that shows it to a student's worker, asks :func:`data_dir`. Another folder
must have the same layout:

    gpt2_tokenizer/encoder.json, vocab.bpe   the real GPT-2 byte-level BPE files
    ner/train.conll, test.conll              the NER corpus (exercise ner_head)
    tiny-gpt2/                               the tiny checkpoint (exercise gpt2_loading)

This module runs in the trusted grader (checks use it to build inputs); submissions never
need it. Data one exercise alone reads is read by a module in that exercise's folder
(``exercises/ner_head/ner_data.py`` for the NER corpus).
"""

from __future__ import annotations

import functools

import os
from pathlib import Path

# The one environment variable that moves the data folder (read on each data_dir() call).
DATA_DIR_VARIABLE = "GRADER_DATA_DIR"

# The repository's data/ folder (a kit's, in a kit), used when DATA_DIR_VARIABLE is not set.
REPO_DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# GPT-2's only special token; it doubles as beginning and end of text.
END_OF_TEXT = "<|endoftext|>"
END_OF_TEXT_ID = 50256


class DataError(ValueError):
    """A data file is missing or malformed; the message is one line and names the file."""


def data_dir() -> Path:
    """The data folder now: ``GRADER_DATA_DIR`` if set, else the repository's data/."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or REPO_DATA_DIR)


def gpt2_tokenizer_folder(folder: str | Path | None = None) -> Path:
    """``folder``, or the data folder's ``gpt2_tokenizer`` when None."""
    return Path(folder) if folder is not None else data_dir() / "gpt2_tokenizer"


def gpt2_tokenizer(folder: str | Path | None = None):
    """The real GPT-2 tokenizer as a ``tokenizers.Tokenizer`` (a fresh object each call).

    Byte-level BPE built from ``encoder.json`` and ``vocab.bpe`` in ``folder`` (default
    ``<data>/gpt2_tokenizer``), with GPT-2's pre-tokenizer and decoder and no prefix
    space: ``gpt2_tokenizer().encode("Hello, I am").ids == [15496, 11, 314, 716]``.
    ``<|endoftext|>`` (50256) is registered as a special token, as in GPT-2; no
    post-processor adds it anywhere.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    folder = gpt2_tokenizer_folder(folder)
    vocab, merges = folder / "encoder.json", folder / "vocab.bpe"
    for path in (vocab, merges):
        if not path.is_file():
            raise DataError(f"{path}: GPT-2 tokenizer file not found (run data/make_data.py, or set {DATA_DIR_VARIABLE})")
    try:
        bpe = models.BPE.from_file(str(vocab), str(merges))
    except Exception as exc:  # tokenizers raises its own exception types
        raise DataError(f"{folder}: cannot read the GPT-2 tokenizer files: {exc}") from None
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(END_OF_TEXT, special=True)])
    return tokenizer


def shared_gpt2_tokenizer(folder: str | Path | None = None):
    """:func:`gpt2_tokenizer`, built once per folder and shared by its callers: never modify
    it (set no post-processor, add no tokens). Reading the files takes ~0.2 s; a batch slot
    builds it once (ExerciseSpec.check_preloads) for every submission it grades."""
    return _shared_in(str(gpt2_tokenizer_folder(folder)))


@functools.lru_cache(maxsize=4)
def _shared_in(folder: str):
    return gpt2_tokenizer(folder)


__all__ = [
    "DATA_DIR_VARIABLE",
    "END_OF_TEXT",
    "END_OF_TEXT_ID",
    "REPO_DATA_DIR",
    "DataError",
    "data_dir",
    "gpt2_tokenizer",
    "gpt2_tokenizer_folder",
    "shared_gpt2_tokenizer",
]
