"""Hostile and pathological input to the similarity report: files that would make the
tokenizer crawl, a copying ring larger than the "common" limit, a class of identical
files, ids that reorder a line (bidi controls), odd encodings, and the disguises a copier
tries. What the method does not catch is asserted as it is (README says it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.registry import load_registry
from grader.similarity.compare import Document, common_limit_for, compare
from grader.similarity.fingerprint import MAX_TOKENS, boilerplate, fingerprint
from grader.similarity.html import page
from grader.similarity.report import SimilarityReport, similarity_report
from test_similarity import ATTENTION, ATTENTION_BMM, ATTENTION_EINSUM, _score, _write


@pytest.fixture(scope="module")
def stub() -> frozenset[int]:
    spec = load_registry().select(["attention"])[0]
    return frozenset(boilerplate(spec.stub.read_text(encoding="utf-8")))


def _similarity(stub, a: str, b: str) -> float:
    docs = [Document("a", a, fingerprint(a, stub)), Document("b", b, fingerprint(b, stub))]
    pairs = compare("attention", docs, common_limit=10, min_shared=1).pairs
    return min(pairs[0].similarity_a, pairs[0].similarity_b) if pairs else 0.0


# --------------------------------------------------------------------------- cost


@pytest.mark.parametrize("source", [
    "x = [" + "1," * 500_000 + "]\n",  # 1 MB on one line: a million tokens
    "a\n" * 100_000,  # 100k identical tokens
    "'s' " * 200_000,
])  # fmt: skip
def test_a_file_of_junk_tokens_is_read_up_to_the_cap_with_a_note(source):
    found = fingerprint(source)
    assert found.tokens <= MAX_TOKENS
    assert "compared up to line" in found.note


def test_deep_brackets_bom_crlf_tabs_and_homoglyphs_are_read_and_copies_found(tmp_path):
    weird = {
        "orig": {"attention.py": ATTENTION},
        "crlf": {"attention.py": ATTENTION.replace("\n", "\r\n")},
        "tabs": {"attention.py": "\ufeff" + ATTENTION.replace("    ", "\t")},
        "nested": {"attention.py": "x = " + "[" * 3000 + "]" * 3000 + "\n" + ATTENTION},
        # Cyrillic look-alike letters in names: names are one token whatever their letters
        "homoglyph": {"attention.py": ATTENTION.replace("scores", "ѕcores").replace("weights", "wеights")},
    }  # fmt: skip
    root = _write(tmp_path / "subs", weird)
    (root / "zipped").mkdir()
    (root / "zipped" / "attention.py").write_bytes(b"PK\x03\x04" + b"\0" * 64)  # a zip named .py
    (root / "latin1").mkdir()
    (root / "latin1" / "attention.py").write_bytes(ATTENTION.encode() + b"# caf\xe9\n")
    report = similarity_report(root, ["attention"])
    for sid in ("crlf", "tabs", "nested", "homoglyph"):
        pair = _score(report, "attention", "orig", sid)
        assert pair is not None and pair.similarity == 1.0, (sid, pair)  # all of orig's code is in theirs
    notes = {n.student: n.text for n in report.notes}
    assert "binary" in notes["zipped"] and "UTF-8" in notes["latin1"]


def test_a_notebook_of_10k_cells_and_a_folder_of_1000_files_are_read(tmp_path):
    cells = [{"cell_type": "code", "metadata": {}, "source": "pass\n", "outputs": [], "execution_count": None}] * 10_000
    cells = [{"cell_type": "code", "metadata": {}, "source": ATTENTION, "outputs": [], "execution_count": None}, *cells]
    root = _write(tmp_path / "subs", {"orig": {"attention.py": ATTENTION}})
    (root / "nb").mkdir()
    (root / "nb" / "attention.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    (root / "many").mkdir()
    for n in range(1000):
        (root / "many" / f"notes{n}.txt").write_text("x")
    (root / "many" / "attention.py").write_text(ATTENTION)
    report = similarity_report(root, ["attention"])
    assert _score(report, "attention", "orig", "nb").similarity == 1.0
    assert _score(report, "attention", "orig", "many").similarity == 1.0


# --------------------------------------------------------------------------- many the same


def test_a_ring_larger_than_the_common_limit_is_listed_as_a_group(stub):
    # 30 students hand round one file in a class of 500: every fingerprint of it is in
    # more than 5% of the class, so "common", and no pair would ever show it.
    ring = [Document(f"ring{n:02d}", ATTENTION, fingerprint(ATTENTION, stub)) for n in range(30)]
    others = [Document(f"x{n:03d}", s, fingerprint(s, stub))
              for n, s in enumerate([ATTENTION_EINSUM, ATTENTION_BMM] * 235)]  # fmt: skip
    comparison = compare("attention", ring + others)
    assert common_limit_for(500) < 30
    assert not any(p.student_a.startswith("ring") for p in comparison.pairs)  # the common rule hides them...
    assert [d.student for d in ring] in comparison.groups  # ...the group does not
    html = page(SimilarityReport([comparison], students=500))
    assert "30 files have the same code" in html and "ring29" in html


def test_a_class_of_identical_files_is_one_line_not_quadratic(stub):
    doc = fingerprint(ATTENTION, stub)
    comparison = compare("attention", [Document(f"s{n:03d}", ATTENTION, doc) for n in range(500)])
    assert comparison.pairs == []  # not 124,750 pairs
    assert [len(g) for g in comparison.groups] == [500]
    html = page(SimilarityReport([comparison], students=500))
    assert len(html) < 50_000 and "450 more" in html


def test_short_identical_idioms_below_the_limit_stay_pairs(stub):
    comparison = compare("attention", [Document(f"s{n}", ATTENTION, fingerprint(ATTENTION, stub)) for n in range(5)])
    assert len(comparison.pairs) == 10 and comparison.groups == []


# --------------------------------------------------------------------------- ids in the page


def test_bidi_controls_in_ids_cannot_reorder_the_page(tmp_path):
    rlo = "mallory\u202e\u2066"
    root = _write(tmp_path / "subs", {rlo: {"attention.py": ATTENTION}, "bob": {"attention.py": ATTENTION}})
    html = page(similarity_report(root, ["attention"]))
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]", html)
    assert "mallory" in html


# --------------------------------------------------------------------------- disguises


def _reorder_functions(source: str) -> str:
    lines = source.splitlines()
    fn = next(i for i, line in enumerate(lines) if line.startswith("def "))
    cls = next(i for i, line in enumerate(lines) if line.startswith("class "))
    return "\n".join(lines[:fn] + lines[cls:] + ["", ""] + lines[fn:cls]) + "\n"


def _comment_every_line(source: str) -> str:
    return "\n".join(f"{line}\n{re.match(r' *', line).group()}# checked" for line in source.splitlines()) + "\n"


def _dead_code_every_line(source: str) -> str:
    out = []
    for line in source.splitlines():
        out.append(line)
        body = line.strip()
        if body and not body.endswith(":") and not body.startswith(("return", "import", "from", "@")):
            out.append(re.match(r" *", line).group() + "_unused = 0")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("disguise, at_least", [
    (_reorder_functions, 0.9),
    (_comment_every_line, 1.0),
    (lambda s: s.replace("mask & allowed", "allowed & mask").replace("3 * d_model", "d_model * 3"), 0.9),  # swapped operands
    (lambda s: s.replace(".view(", ".reshape(").replace("x.size()", "x.shape"), 0.7),  # library calls swapped
])  # fmt: skip
def test_disguises_that_are_caught(stub, disguise, at_least):
    assert _similarity(stub, ATTENTION, disguise(ATTENTION)) >= at_least
    assert _similarity(stub, ATTENTION, ATTENTION_EINSUM) < 0.3  # what an independent solution scores


def test_dead_code_after_every_line_halves_the_score(stub):
    # A known limit (README): a statement between every two lines breaks most k-grams.
    # Still above independent work, but a reader must look below the top of the list.
    score = _similarity(stub, ATTENTION, _dead_code_every_line(ATTENTION))
    assert 0.3 < score < 0.7


def test_a_notebook_of_300k_cells_is_refused_before_nbformat_reads_it(tmp_path):
    # nbformat's validation, in the trusted process, took a minute on such a file.
    from grader.notebooks import MAX_CELLS

    cell = {"cell_type": "code", "metadata": {}, "source": "x = 1\n", "outputs": [], "execution_count": None}
    root = _write(tmp_path / "subs", {"orig": {"attention.py": ATTENTION}})
    (root / "nb").mkdir()
    doc = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell] * 300_000}
    (root / "nb" / "attention.ipynb").write_text(json.dumps(doc))
    report = similarity_report(root, ["attention"])
    notes = [n.text for n in report.notes if n.student == "nb"]
    assert len(notes) == 1 and f"more than the {MAX_CELLS}" in notes[0]


def test_grade_similarity_says_when_groups_are_only_in_the_html(tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    root = _write(tmp_path / "subs", {f"ring{n:02d}": {"attention.py": ATTENTION} for n in range(12)})
    result = CliRunner().invoke(cli, ["similarity", str(root), "--out", str(tmp_path / "R"), "--exercises", "attention"])
    assert result.exit_code == 0, result.output
    assert "12 submissions, 0 similar pairs, 1 groups of identical files (see the HTML)" in result.output
    assert "12 files have the same code" in (tmp_path / "R" / "similarity.html").read_text(encoding="utf-8")
