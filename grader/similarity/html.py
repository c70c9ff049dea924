"""The similarity section (report.html) and the standalone similarity.html.

Per exercise: any group of identical files too large to be pairs (see compare), the most
similar pairs, then for the first few their shared fragments side by side (the lines
their shared fingerprints cover, highlighted, with a little context).
Everything a submission supplies (ids, code, notes) is escaped, and control characters
are replaced, before it is written.
"""

from __future__ import annotations

from html import escape

from grader.safe_text import printable
from grader.similarity.compare import Comparison, Pair
from grader.similarity.report import CSV_NAME, SimilarityReport

TOP_PAIRS = 10  # rows per exercise in the table (every pair is in similarity.csv)
SIDE_BY_SIDE = 5  # pairs per exercise shown with their code
CONTEXT = 2  # unmatched lines shown around a match
MAX_LINES = 300  # lines shown per side
MAX_LINE_CHARS = 160

STYLE = """
.sim-pair { margin: .6em 0; } .sim-pair summary { cursor: pointer; }
.sim-sides { display: grid; grid-template-columns: 1fr 1fr; gap: .8em; }
.sim-sides pre { margin: 0; padding: .4em; background: #fafafa; border: 1px solid #ddd; overflow-x: auto; font-size: .8em; }
.sim-sides mark { background: #ffe08a; display: inline-block; width: 100%; }
.sim-gap { color: #999; } .sim-ln { color: #999; user-select: none; }
"""
GROUP_IDS = 50  # ids shown per group of identical files


def _text(value: object) -> str:
    # Controls and bidi overrides shown as escapes: a right-to-left override in one id
    # would reverse the rest of its line ("alice (100%) and bob (3%)", numbers swapped).
    return escape(printable(value))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _side(source: str, matched: set[int]) -> str:
    lines = source.splitlines()
    shown = sorted({n for m in matched for n in range(m - CONTEXT, m + CONTEXT + 1) if 1 <= n <= len(lines)})
    out, previous = [], 0
    for n in shown[:MAX_LINES]:
        if n != previous + 1:
            out.append('<span class="sim-gap">⋯</span>')
        line = lines[n - 1]
        code = _text(line[:MAX_LINE_CHARS] + ("…" if len(line) > MAX_LINE_CHARS else ""))
        row = f'<span class="sim-ln">{n:4d} </span>{code}'
        # A k-gram spans from its first token's line to its last: the blank lines between are not shared code.
        out.append(f"<mark>{row}</mark>" if n in matched and line.strip() else row)
        previous = n
    if len(shown) > MAX_LINES:
        out.append(f'<span class="sim-gap">⋯ {len(shown) - MAX_LINES} more lines</span>')
    return "<pre>" + "\n".join(out) + "</pre>"


def _pair_detail(comparison: Comparison, pair: Pair, open_: bool) -> str:
    lines_a, lines_b = comparison.shared_lines(pair)
    a, b = comparison.documents[pair.student_a], comparison.documents[pair.student_b]
    summary = (f"{_text(pair.student_a)} ({_pct(pair.similarity_a)}) and {_text(pair.student_b)} "
               f"({_pct(pair.similarity_b)}): {pair.shared} shared fingerprints")  # fmt: skip
    return (
        f'<details class="sim-pair"{" open" if open_ else ""}><summary>{summary}</summary><div class="sim-sides">'
        f"<div><b>{_text(pair.student_a)}</b>{_side(a.source, lines_a)}</div>"
        f"<div><b>{_text(pair.student_b)}</b>{_side(b.source, lines_b)}</div></div></details>"
    )


def _groups(comparison: Comparison) -> str:
    """Files identical to more than the common limit of others: too many to be pairs (see compare)."""
    out = []
    for group in comparison.groups:
        ids = ", ".join(_text(sid) for sid in group[:GROUP_IDS]) + (f", … {len(group) - GROUP_IDS} more" if len(group) > GROUP_IDS else "")
        out.append(f'<p class="error">{len(group)} files have the same code (names and layout aside), so many that it '
                   f"counts as common and they are not listed as pairs: a short idiom, or one file passed round: {ids}.</p>")  # fmt: skip
    return "".join(out)


def _exercise(comparison: Comparison) -> str:
    head = f"<h3>{_text(comparison.exercise)}</h3>" + _groups(comparison)
    if not comparison.pairs:
        other = " other" if comparison.groups else ""
        return head + f'<p class="none">No{other} two of the {len(comparison.documents)} files compared share code beyond the stub and common idioms.</p>'
    rows = "".join(
        f"<tr><td>{_text(p.student_a)}</td><td>{_text(p.student_b)}</td><td class=\"num\">{_pct(p.similarity_a)}</td>"
        f"<td class=\"num\">{_pct(p.similarity_b)}</td><td class=\"num\">{p.shared}</td></tr>"
        for p in comparison.pairs[:TOP_PAIRS]
    )
    table = ('<table><thead><tr><th>student A</th><th>student B</th><th class="num">A found in B</th>'
             f'<th class="num">B found in A</th><th class="num">shared fingerprints</th></tr></thead><tbody>{rows}</tbody></table>')  # fmt: skip
    details = "".join(_pair_detail(comparison, p, n == 0) for n, p in enumerate(comparison.pairs[:SIDE_BY_SIDE]))
    more = len(comparison.pairs) - TOP_PAIRS
    tail = f'<p class="none">{more} more pairs in {CSV_NAME}.</p>' if more > 0 else ""
    return head + f"<p>{len(comparison.documents)} files compared.</p>" + table + tail + details


def _notes(report: SimilarityReport) -> str:
    if not report.notes:
        return ""
    rows = "".join(
        f"<tr><td>{_text(n.student)}</td><td>{_text(n.exercise or 'all')}</td><td class=\"msg\">{_text(n.text[:500])}</td></tr>"
        for n in report.notes
    )
    return (f"<details><summary>{len(report.notes)} files not compared, or compared in part</summary>"
            f"<table><thead><tr><th>student</th><th>exercise</th><th>why</th></tr></thead><tbody>{rows}</tbody></table></details>")  # fmt: skip


def section(report: SimilarityReport) -> str:
    """``<section id="similarity">``: trusted HTML, every submitted value escaped."""
    intro = (
        f"<p>{report.students} submissions compared pairwise per exercise by winnowed fingerprints of "
        "their normalized tokens (names, comments and formatting ignored, as MOSS does). The stub's code and "
        "idioms common to many submissions never count. A pair's percentages are the share of each "
        f"one's fingerprints found in the other; every pair is in {CSV_NAME}. Similar is not proof: read the code.</p>"
    )
    body = "".join(_exercise(c) for c in report.comparisons)
    return f'<section id="similarity"><style>{STYLE}</style><h2>Similar submissions</h2>{intro}{body}{_notes(report)}</section>'


def page(report: SimilarityReport, title: str = "Similarity report") -> str:
    """similarity.html: the section as a page of its own (the batch report's look)."""
    from grader.batch.report import STYLE as REPORT_STYLE

    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{REPORT_STYLE}</style></head><body><h1>{escape(title)}</h1>\n{section(report)}\n</body></html>\n"
    )
