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

# Chosen on disguised copies against independent solutions (tests/test_similarity.py):
# k 8 pairs independent softmaxes (short idioms match), k 14 loses reordered copies.
K = 10  # tokens per k-gram: about one line of normalized code (shorter matches are idioms)
WINDOW = 6  # so a shared run of 15 tokens (under two lines) is always found

# Token kinds that carry no meaning for what the code does.
_DROPPED = {
    tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
    tokenize.ENCODING, tokenize.ENDMARKER,
}  # fmt: skip
# Python 3.12 splits f-strings into parts; older versions give one STRING.
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


@dataclass(frozen=True)
class Token:
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
