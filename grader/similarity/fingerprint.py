"""Fingerprints of one Python source that survive renaming and reformatting (winnowing).

Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for document
fingerprinting" (SIGMOD 2003), the method behind MOSS:

1. Normalize the tokens (``tokenize``, so the code is read, never run): names the
   student chose (variables, parameters, functions, classes, ``self.<attribute>``)
   become one token ``V``; numbers ``N``; strings ``S``. Comments, blank lines,
   indentation, line breaks and docstrings (any string standing alone as a statement)
   are dropped. Keywords, operators and library attributes (``.exp``, ``.masked_fill``)
   stay: they are what the code does, and a copier who renames variables keeps them.
2. Hash every run of K consecutive tokens (a k-gram).
3. Winnow: in every window of W consecutive k-gram hashes keep the smallest (the
   rightmost on ties). Any match of at least W + K - 1 tokens shares a fingerprint;
   a match shorter than K tokens never does (noise).

Each fingerprint remembers the source lines its k-gram covers, for highlighting.
"""

from __future__ import annotations

import hashlib
import io
import keyword
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

# Chosen on disguised copies against independent solutions (tests/test_similarity.py):
# k 8 pairs independent softmaxes (short idioms match), k 14 loses reordered copies.
K = 10  # tokens per k-gram: about one line of normalized code (shorter matches are idioms)
WINDOW = 6  # so a shared run of 15 tokens (under two lines) is always found
# A solution is a few thousand tokens. Tokenizing is pure Python (some 20 us a token), so
# a 1 MB file of "1," would cost half a minute; past this a file is padded or generated.
MAX_TOKENS = 50_000

# Token kinds that carry no meaning for what the code does.
_DROPPED = {
    tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
    tokenize.ENCODING, tokenize.ENDMARKER,
}  # fmt: skip
# Python 3.12 splits f-strings into parts; older versions give one STRING.
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


class Token(NamedTuple):  # a tuple: hundreds of thousands are made for a class
    text: str  # normalized: V, N, S, a keyword, an operator or a library attribute
    first_line: int
    last_line: int


@dataclass
class Fingerprint:
    """The winnowed k-gram hashes of one source, each with the line spans it came from."""

    spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # hash -> [(first line, last line)]
    tokens: int = 0
    note: str = ""  # why only part of the file could be read ("" when all of it was)

    @property
    def hashes(self) -> set[int]:
        return set(self.spans)


def normalize(source: str) -> tuple[list[Token], str]:
    """The normalized tokens of ``source`` and a note: "" when it tokenized to the end, else
    where it stopped (what came before is kept: a syntax error is no reason to skip a file)."""
    raw: list[tokenize.TokenInfo] = []
    note = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if len(raw) >= MAX_TOKENS:
                note = f"compared up to line {tok.start[0]} only (its first {MAX_TOKENS} tokens; a solution has a few thousand)"
                break
            raw.append(tok)
    except (tokenize.TokenError, SyntaxError) as exc:  # IndentationError is a SyntaxError
        line = getattr(exc, "lineno", None) or (exc.args[1][0] if len(exc.args) > 1 and isinstance(exc.args[1], tuple) else None)
        note = f"read up to line {line or '?'} only (the code does not tokenize: {exc.args[0] if exc.args else exc})"
    significant = [t for t in raw if t.type not in (tokenize.COMMENT, tokenize.NL)]
    out: list[Token] = []
    fstring_depth, fstring_first = 0, 0
    for i, tok in enumerate(significant):
        if _FSTRING_START is not None and tok.type == _FSTRING_START:
            fstring_depth += 1
            if fstring_depth == 1:
                fstring_first = tok.start[0]
            continue
        if fstring_depth:
            if tok.type == _FSTRING_END:
                fstring_depth -= 1
                if fstring_depth == 0:
                    out.append(Token("S", fstring_first, tok.end[0]))
            continue
        if tok.type in _DROPPED:
            continue
        if tok.type == tokenize.STRING:
            if _is_docstring(significant, i):
                continue
            text = "S"
        elif tok.type == tokenize.NUMBER:
            text = "N"
        elif tok.type == tokenize.NAME:
            text = _name(significant, i)
        elif tok.type == tokenize.ERRORTOKEN and not tok.string.strip():
            continue
        else:
            text = tok.string
        out.append(Token(text, tok.start[0], tok.end[0]))
    return out, note


def _is_docstring(tokens: list[tokenize.TokenInfo], i: int) -> bool:
    """A string that is a whole statement (docstrings, strings used as comments)."""
    before = tokens[i - 1].type if i > 0 else tokenize.NEWLINE
    after = tokens[i + 1].type if i + 1 < len(tokens) else tokenize.ENDMARKER
    starts = before in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
    return starts and after in (tokenize.NEWLINE, tokenize.ENDMARKER)


def _name(tokens: list[tokenize.TokenInfo], i: int) -> str:
    word = tokens[i].string
    if keyword.iskeyword(word):
        return word
    if i >= 2 and tokens[i - 1].string == ".":
        # obj.attr: the library's vocabulary stays, the student's own attributes do not.
        return "V" if tokens[i - 2].string == "self" else word
    return "V"


_TOKEN_IDS: dict[str, int] = {}


def _token_id(text: str) -> int:
    # Stable across processes (str hashes are salted per process; int tuples are not).
    found = _TOKEN_IDS.get(text)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")
        if len(_TOKEN_IDS) < 100_000:  # student code may invent any number of operators/attributes
            _TOKEN_IDS[text] = found
    return found


def kgram_hashes(tokens: list[Token], k: int = K) -> list[int]:
    """The hash of every run of ``k`` consecutive tokens."""
    ids = [_token_id(t.text) for t in tokens]
    return [hash(tuple(ids[i : i + k])) for i in range(len(ids) - k + 1)]


def winnow(hashes: list[int], window: int = WINDOW) -> list[int]:
    """Positions chosen by winnowing: the minimum of every window, the rightmost on ties."""
    if not hashes:
        return []
    if len(hashes) <= window:
        smallest = min(hashes)
        return [max(i for i, h in enumerate(hashes) if h == smallest)]
    chosen: list[int] = []
    for start in range(len(hashes) - window + 1):
        best = start
        for j in range(start + 1, start + window):
            if hashes[j] <= hashes[best]:
                best = j
        if not chosen or chosen[-1] != best:
            chosen.append(best)
    return chosen


def boilerplate(source: str, k: int = K) -> set[int]:
    """Every k-gram hash of ``source`` (a stub): none of them may count as shared work."""
    tokens, _ = normalize(source)
    return set(kgram_hashes(tokens, k))


def fingerprint(source: str, exclude: Iterable[int] = frozenset(), k: int = K, window: int = WINDOW) -> Fingerprint:
    """The fingerprint of ``source``, without the hashes in ``exclude`` (the stub's)."""
    tokens, note = normalize(source)
    hashes = kgram_hashes(tokens, k)
    excluded = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
    spans: dict[int, list[tuple[int, int]]] = {}
    for pos in winnow(hashes, window):
        h = hashes[pos]
        if h in excluded:
            continue
        spans.setdefault(h, []).append((tokens[pos].first_line, tokens[pos + k - 1].last_line))
    return Fingerprint(spans, len(tokens), note)


# ------------------------------------------------------------------- a class at once

PARALLEL_FROM = 200  # files: below this, starting processes costs more than it saves
_EXCLUDES: dict[str, frozenset[int]] = {}  # per worker process: exercise -> the stub's hashes


def _init_worker(excludes: dict[str, frozenset[int]]) -> None:
    _EXCLUDES.update(excludes)


def _fingerprint_job(job: tuple[str, str]) -> Fingerprint:
    exercise, source = job
    return fingerprint(source, _EXCLUDES.get(exercise, frozenset()))


def fingerprint_many(jobs: list[tuple[str, str]], excludes: dict[str, frozenset[int]],
                     workers: int | None = None) -> list[Fingerprint]:  # fmt: skip
    """The fingerprint of each (exercise, source), without that exercise's ``excludes``.

    Tokenizing is pure Python and the work of a class: on several cores it is spread over
    fresh processes (spawned: the caller may hold threads or torch). Only our own data
    crosses; no submitted code is run anywhere.
    """
    import os

    count = workers
    if count is None:
        count = min(os.cpu_count() or 1, 8, len(jobs) // (PARALLEL_FROM // 2)) if len(jobs) >= PARALLEL_FROM else 1
    if count > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        try:
            with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init_worker, initargs=(excludes,)) as pool:  # fmt: skip
                return list(pool.map(_fingerprint_job, jobs, chunksize=max(1, len(jobs) // (count * 8))))
        except (BrokenProcessPool, OSError):
            pass  # no processes here (a locked-down container): the same work in this one
    return [fingerprint(source, excludes.get(exercise, frozenset())) for exercise, source in jobs]
