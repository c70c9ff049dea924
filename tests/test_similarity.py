"""grade similarity / grade batch --similarity: copies are found whatever their names and
layout, independent solutions are not, the stub never counts, nothing hostile leaks into
the outputs, and bad files or paths give a note or a one-line error. No code is run."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_fixtures.make_class import notebook
from grader.cli import cli
from grader.registry import load_registry
from grader.similarity.report import similarity_report, write_report

ATTENTION = '''
import math
import torch
import torch.nn as nn
from torch import Tensor


def scaled_dot_product_attention(q, k, v, mask=None):
    # scores between every query and every key
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    weights = torch.nan_to_num(weights, nan=0.0)  # rows with no key allowed
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.n_heads = n_heads
        self.causal = causal
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x, mask=None):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.n_heads
        q = q.view(B, T, self.n_heads, hs).transpose(1, 2)
        k = k.view(B, T, self.n_heads, hs).transpose(1, 2)
        v = v.view(B, T, self.n_heads, hs).transpose(1, 2)
        if self.causal:
            allowed = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            mask = allowed if mask is None else mask & allowed
        y, _ = scaled_dot_product_attention(q, k, v, mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)
'''

# The same code, disguised: every name changed, lines reordered and rewrapped, comments
# and a docstring changed or added.
ATTENTION_DISGUISED = '''
"""My attention implementation (written all by myself!)."""
import torch
import math
from torch import Tensor
import torch.nn as nn


def scaled_dot_product_attention(query, key, value, attn_mask=None):
    """Compute attention."""
    dim = query.size(-1)
    logits = query @ key.transpose(-2,
                                   -1) / math.sqrt(dim)   # raw scores
    if attn_mask is not None:
        logits = logits.masked_fill(~attn_mask, float('-inf'))
    probs = torch.softmax(logits, dim=-1)
    probs = torch.nan_to_num(probs, nan=0.0)
    return probs @ value, probs


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.is_causal = causal
        self.heads = n_heads

    def forward(self, inp, mask=None):
        batch, length, width = inp.size()
        head_size = width // self.heads
        qq, kk, vv = self.c_attn(inp).split(width, dim=2)
        # reshape into heads
        kk = kk.view(batch, length, self.heads, head_size).transpose(1, 2)
        qq = qq.view(batch, length, self.heads, head_size).transpose(1, 2)
        vv = vv.view(batch, length, self.heads, head_size).transpose(1, 2)
        if self.is_causal:
            lower = torch.ones(length, length, dtype=torch.bool, device=inp.device).tril()
            mask = lower if mask is None else mask & lower
        out, _ = scaled_dot_product_attention(qq, kk, vv, mask)
        out = out.transpose(1, 2).contiguous().view(batch, length, width)
        return self.c_proj(out)
'''

# Independent correct attention, written differently.
ATTENTION_EINSUM = '''
import torch
import torch.nn as nn


def scaled_dot_product_attention(q, k, v, mask=None):
    s = torch.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        s = torch.where(mask, s, torch.finfo(s.dtype).min)
    w = s.softmax(-1)
    if mask is not None:
        w = w * mask.any(-1, keepdim=True)
    return torch.einsum("...qk,...kd->...qd", w, v), w


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        assert d_model % n_heads == 0
        self.nh, self.causal = n_heads, causal
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x, mask=None):
        b, t, c = x.shape
        qkv = self.c_attn(x).reshape(b, t, 3, self.nh, c // self.nh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.causal:
            tri = torch.arange(t)[:, None] >= torch.arange(t)[None, :]
            mask = tri if mask is None else torch.logical_and(mask, tri)
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.c_proj(out.permute(0, 2, 1, 3).reshape(b, t, c))
'''

ATTENTION_BMM = '''
import math
import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    lead = q.shape[:-2]
    q3, k3, v3 = (t.reshape(-1, t.shape[-2], t.shape[-1]) for t in (q, k, v))
    att = torch.bmm(q3, k3.transpose(1, 2)).div(math.sqrt(q.shape[-1]))
    att = att.reshape(*lead, att.shape[-2], att.shape[-1])
    if mask is not None:
        att = att + torch.zeros_like(att).masked_fill(mask.logical_not(), -math.inf)
    m = att.amax(dim=-1, keepdim=True).clamp(min=-1e30)
    e = torch.exp(att - m)
    total = e.sum(dim=-1, keepdim=True)
    p = torch.where(total > 0, e / total.clamp(min=1e-30), torch.zeros_like(e))
    return torch.matmul(p, v), p


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.heads = n_heads
        self.causal = causal

    def _split(self, t, B, T):
        return t.reshape(B, T, self.heads, -1).swapaxes(1, 2)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        proj = self.c_attn(x)
        q, k, v = (self._split(part, B, T) for part in torch.chunk(proj, 3, dim=-1))
        if self.causal:
            causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1).logical_not()
            mask = causal if mask is None else causal.logical_and(mask)
        y = scaled_dot_product_attention(q, k, v, mask)[0]
        y = y.swapaxes(1, 2).reshape(B, T, C)
        return self.c_proj(y)
'''

SOFTMAX_EXP_SUM = '''
import torch


def softmax(x, dim=-1):
    shifted = x - x.max(dim=dim, keepdim=True).values
    numerator = torch.exp(shifted)
    denominator = numerator.sum(dim=dim, keepdim=True)
    return numerator / denominator
'''

SOFTMAX_LOGSUMEXP = '''
import torch


def softmax(x, dim=-1):
    log_z = torch.logsumexp(x, dim=dim, keepdim=True)
    return torch.exp(x - log_z)
'''

SOFTMAX_MOVEDIM = '''
import torch


def softmax(x, dim=-1):
    y = x.movedim(dim, -1)
    top, _ = torch.max(y, -1, keepdim=True)
    y = (y - top).exp()
    y = y / torch.sum(y, -1, keepdim=True)
    return y.movedim(-1, dim)
'''


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _write(root: Path, students: dict[str, dict[str, str]]) -> Path:
    """students: id -> {file name: text}; each student a folder."""
    root.mkdir(parents=True, exist_ok=True)
    for sid, files in students.items():
        (root / sid).mkdir()
        for name, text in files.items():
            (root / sid / name).write_text(text, encoding="utf-8")
    return root


def _score(report, exercise: str, a: str, b: str):
    for pair in report.pairs():
        if pair.exercise == exercise and {pair.student_a, pair.student_b} == {a, b}:
            return pair
    return None


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# --------------------------------------------------------------------------- what is found


def test_a_disguised_copy_scores_high_and_independent_solutions_low(tmp_path):
    subs = _write(tmp_path / "subs", {
        "orig": {"attention.py": ATTENTION}, "copier": {"attention.py": ATTENTION_DISGUISED},
        "einsum": {"attention.py": ATTENTION_EINSUM}, "bmm": {"attention.py": ATTENTION_BMM},
    })  # fmt: skip
    report = similarity_report(subs, ["attention"])
    copy = _score(report, "attention", "orig", "copier")
    assert copy is not None and copy.similarity_a >= 0.7 and copy.similarity_b >= 0.7, copy
    assert report.pairs()[0] == copy  # most similar first
    for a, b in [("orig", "einsum"), ("orig", "bmm"), ("einsum", "bmm"), ("copier", "einsum"), ("copier", "bmm")]:
        pair = _score(report, "attention", a, b)
        assert pair is None or pair.similarity < 0.3, pair


def test_independent_softmax_solutions_do_not_pair(tmp_path):
    subs = _write(tmp_path / "subs", {
        "a": {"softmax.py": SOFTMAX_EXP_SUM}, "b": {"softmax.py": SOFTMAX_LOGSUMEXP}, "c": {"softmax.py": SOFTMAX_MOVEDIM},
        "d": {"softmax.py": SOFTMAX_EXP_SUM.replace("shifted", "z").replace("numerator", "ex").replace("denominator", "s")},
    })  # fmt: skip
    report = similarity_report(subs, ["softmax"])
    for a, b in [("a", "b"), ("a", "c"), ("b", "c"), ("b", "d"), ("c", "d")]:
        pair = _score(report, "softmax", a, b)
        assert pair is None or pair.similarity < 0.3, pair
    renamed = _score(report, "softmax", "a", "d")
    assert renamed is not None and renamed.similarity_a == renamed.similarity_b == 1.0


def test_the_stub_shared_by_everyone_does_not_count(tmp_path, registry):
    stub = registry.get("attention").stub.read_text()
    # Three students hand in the stub with one independent function each filled in.
    subs = _write(tmp_path / "subs", {
        "untouched": {"attention.py": stub},
        "also_untouched": {"attention.py": stub.replace("# create self.c_attn", "# TODO create self.c_attn")},
        "einsum": {"attention.py": stub + ATTENTION_EINSUM}, "bmm": {"attention.py": stub + ATTENTION_BMM},
    })  # fmt: skip
    report = similarity_report(subs, ["attention"])
    [comparison] = report.comparisons
    assert comparison.documents["untouched"].fingerprint.spans == {}
    assert comparison.documents["also_untouched"].fingerprint.spans == {}
    assert _score(report, "attention", "untouched", "also_untouched") is None
    pair = _score(report, "attention", "einsum", "bmm")
    assert pair is None or pair.similarity < 0.3, pair


def test_notebooks_are_compared_by_their_code_cells(tmp_path):
    subs = _write(tmp_path / "subs", {"orig": {"attention.py": ATTENTION}, "other": {"attention.py": ATTENTION_BMM}})
    (subs / "nb.ipynb").write_text(notebook(ATTENTION_DISGUISED))
    report = similarity_report(subs, ["attention"])
    pair = _score(report, "attention", "nb", "orig")
    assert pair is not None and pair.similarity >= 0.7


def test_zips_and_single_files_are_found_as_the_batch_finds_them(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    with zipfile.ZipFile(subs / "zipped.zip", "w") as z:
        z.writestr("zipped/softmax/softmax.py", SOFTMAX_MOVEDIM)
    (subs / "single.py").write_text(SOFTMAX_MOVEDIM.replace("top", "biggest"))
    report = similarity_report(subs, ["softmax"])
    assert _score(report, "softmax", "single", "zipped").similarity == 1.0


def test_fingerprints_made_in_worker_processes_are_the_ones_made_here(registry):
    from grader.similarity.fingerprint import boilerplate, fingerprint_many

    stubs = {name: frozenset(boilerplate(registry.get(name).stub.read_text())) for name in ("softmax", "attention")}
    jobs = [("attention", ATTENTION), ("attention", ATTENTION_BMM), ("softmax", SOFTMAX_MOVEDIM), ("softmax", "def (")]
    here = fingerprint_many(jobs, stubs, workers=1)
    there = fingerprint_many(jobs, stubs, workers=2)
    assert [(f.spans, f.tokens, f.note) for f in here] == [(f.spans, f.tokens, f.note) for f in there]
    assert here[0].spans and here[2].spans


# --------------------------------------------------------------------------- hostile input


def test_html_and_csv_formulas_in_ids_and_code_are_neutralized(tmp_path):
    evil_id = '<img src=x onerror=alert(1)>=HYPERLINK("x")'
    formula_id = "=cmd|' calc'!A0"
    evil_code = ATTENTION.replace("# scores between every query and every key", "# </pre><script>alert(1)</script>\x1b[2J")
    subs = _write(tmp_path / "subs", {evil_id: {"attention.py": evil_code}, formula_id: {"attention.py": ATTENTION_DISGUISED},
                                      "+plus": {"attention.py": ATTENTION}})  # fmt: skip
    out = tmp_path / "R"
    result = CliRunner().invoke(cli, ["similarity", str(subs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "similarity.html").read_text()
    assert "<script>" not in html and "<img" not in html and "\x1b" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;/pre&gt;&lt;script&gt;" in html
    assert "<mark>" in html  # the shared lines are highlighted
    rows = _rows(out / "similarity.csv")
    assert rows[0] == ["exercise", "student_a", "student_b", "similarity_a", "similarity_b", "shared_fingerprints"]
    cells = [c for row in rows[1:] for c in row[1:3]]
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "'" + formula_id in cells and "'+plus" in cells
    for row in rows[1:]:
        assert 0 < float(row[3]) <= 1 and int(row[5]) >= 2
    assert evil_id not in result.output  # ids are never echoed to the terminal


def test_unreadable_binary_and_huge_files_are_skipped_with_a_note(tmp_path):
    subs = _write(tmp_path / "subs", {"ok": {"softmax.py": SOFTMAX_EXP_SUM}, "ok2": {"softmax.py": SOFTMAX_EXP_SUM}})
    (subs / "binary").mkdir()
    (subs / "binary" / "softmax.py").write_bytes(b"\x7fELF\0\0\0" + bytes(range(256)) * 10)
    (subs / "latin").mkdir()
    (subs / "latin" / "softmax.py").write_bytes("# caf\xe9\n".encode("latin-1") + SOFTMAX_EXP_SUM.encode())
    (subs / "huge").mkdir()
    (subs / "huge" / "softmax.py").write_text(SOFTMAX_EXP_SUM + "# padding\n" * 200_000)
    (subs / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (subs / "badnb.ipynb").write_text("{not json")
    (subs / "syntax").mkdir()
    (subs / "syntax" / "softmax.py").write_text(SOFTMAX_EXP_SUM + '\ndef oops(:\n    s = """never closed\n')
    report = similarity_report(subs, ["softmax"])
    notes = {n.student: n.text for n in report.notes}
    assert "binary" in notes["binary"]
    assert "not UTF-8" in notes["latin"]
    assert "kB of code, more than the 256 kB" in notes["huge"]
    assert "not a readable zip" in notes["broken"]
    assert "badnb" in notes and "JSON" in notes["badnb"]
    assert "syntax" in notes  # tokenized up to the error, and compared on that
    assert _score(report, "softmax", "ok", "ok2").similarity == 1.0
    assert _score(report, "softmax", "ok", "syntax") is not None
    html_out = tmp_path / "R"
    write_report(report, html_out)
    assert "files not compared" in (html_out / "similarity.html").read_text()


# --------------------------------------------------------------------------- the commands


@pytest.mark.parametrize("args, words", [
    (["similarity", "no/such/folder", "--out", "R"], "SUBMISSIONS must be a folder"),
    (["similarity", "SUBS", "--out", "SUBS/R"], "must not be inside SUBMISSIONS"),
    (["similarity", "SUBS", "--out", "FILE"], "exists and is not a folder"),
    (["similarity", "SUBS", "--out", "R", "--exercises", "nope"], "no exercise named 'nope'"),
])  # fmt: skip
def test_bad_paths_and_names_are_one_line_errors(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "SUBS", {"a": {"softmax.py": SOFTMAX_EXP_SUM}})
    (tmp_path / "FILE").write_text("x")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_grade_similarity_writes_both_files(tmp_path):
    subs = _write(tmp_path / "subs", {"a": {"softmax.py": SOFTMAX_EXP_SUM}, "b": {"softmax.py": SOFTMAX_EXP_SUM}})
    result = CliRunner().invoke(cli, ["similarity", str(subs), "--out", str(tmp_path / "R"), "--exercises", "softmax"])
    assert result.exit_code == 0, result.output
    assert "2 submissions, 1 similar pairs" in result.output
    assert _rows(tmp_path / "R" / "similarity.csv")[1][:3] == ["softmax", "a", "b"]


def test_the_batch_writes_similarity_csv_and_a_report_section(tmp_path, registry):
    # Through run.write_outputs (what grade batch --similarity ends with): no grading needed.
    from grader.batch.run import OUTPUTS, BatchOptions, write_outputs

    subs = _write(tmp_path / "subs", {"alice": {"softmax.py": SOFTMAX_EXP_SUM}, "<b>bob": {"softmax.py": SOFTMAX_EXP_SUM}})
    out = tmp_path / "out"
    out.mkdir()
    line = {"digest": "d", "fingerprint": "f", "status": "graded", "error": "", "retry": False, "exercises": []}
    lines = {sid: {"id": sid, **line} for sid in ("alice", "<b>bob")}
    spec = registry.get("softmax")
    write_outputs(out, [spec], lines, {k: k for k in lines}, None, [], BatchOptions(subs, out, similarity=True))
    assert "similarity.csv" in OUTPUTS
    assert _rows(out / "similarity.csv")[1][:3] == ["softmax", "<b>bob", "alice"]  # CSV is not HTML: kept as is
    html = (out / "report.html").read_text()
    assert '<section id="similarity">' in html and "&lt;b&gt;bob" in html and "<b>bob" not in html
    write_outputs(out, [spec], lines, {k: k for k in lines}, None, [], BatchOptions(subs, out))
    assert '<section id="similarity">' not in (out / "report.html").read_text()


def test_a_student_kit_neither_lists_nor_runs_it(monkeypatch, tmp_path):
    from grader import cli as cli_module

    assert "similarity" in CliRunner().invoke(cli, ["--help"]).output
    monkeypatch.setattr(cli_module, "_student_kit", lambda: True)  # a kit, faked
    assert "similarity" not in CliRunner().invoke(cli, ["--help"]).output
    refused = CliRunner().invoke(cli, ["similarity", str(tmp_path), "--out", str(tmp_path / "R")])
    assert refused.exit_code == 2 and "instructor" in refused.output and not (tmp_path / "R").exists()
