"""RESULTS/report.html: one self-contained page about the class.

Sections (each a ``<section id=...>``): ``summary`` (counts and per-exercise statistics),
``histograms`` (score histogram per exercise and of the total, PNGs drawn with
matplotlib's Agg canvas and embedded as base64), ``failing-checks`` (the checks most
students fail, with the most common message; a hidden check's is never shown), ``known-mistakes`` (the known mistakes
most often matched, parsed from the messages), ``errors`` (students whose grading
errored, and why) and ``students`` (everyone's scores); then any ``extra_sections`` a
caller passes (trusted HTML, e.g. the similarity section). Nothing time-dependent is
written, so the same grades give the same page.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections import Counter, defaultdict
from html import escape
from pathlib import Path
from typing import Sequence

from grader.batch.records import ClassResults, known_mistake, shown_message
from grader.results import PASSED

TOP = 20

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .25em .7em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num, th.num { text-align: right; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; } figcaption { font-size: .9em; color: #555; }
.msg { font-family: ui-monospace, monospace; font-size: .85em; color: #444; max-width: 50em; }
.error { color: #a00; } .none { color: #777; font-style: italic; }
"""


def _histogram_png(scores: list[float], max_points: float, title: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.6), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(max_points, max(scores, default=0.0))
    if top <= 40:
        bins = [x - 0.5 for x in range(int(top) + 2)]
    else:
        bins = 20
    ax.hist(scores, bins=bins, color="#4878a8", edgecolor="white")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("points", fontsize=9)
    ax.set_ylabel("students", fontsize=9)
    ax.tick_params(labelsize=8)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buf = io.BytesIO()
    # No "Software" stamp: the same scores give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>" for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x != int(x) else f"{int(x)}"


def render(results: ClassResults, title: str = "Batch grading report", extra_sections: Sequence[str] = ()) -> str:
    """The page. ``extra_sections``: trusted, already-rendered HTML fragments (each
    escaped by its producer, e.g. a ``<section id=...>``) appended after the built-in
    sections, in the given order."""
    students = results.submitted()
    graded, errored = results.graded(), results.errored()
    missing = [s for s in results.students if s.status == "missing"]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"]  # fmt: skip

    # -- summary
    totals = [s.total for s in students]
    lines = [
        f"<p>{len(students)} submissions: {len(graded)} graded, {len(errored)} could not be graded"
        + (f"; {len(missing)} students on the roster submitted nothing" if missing else "")
        + f". Maximum {_fmt(results.max_total)} points.</p>"
    ]
    unisolated = [s for s in students if not s.isolated]
    if unisolated:
        lines.append(f'<p class="error">{len(unisolated)} submissions were graded without isolation (--no-sandbox): '
                     "their code could have read or changed anything the grading user can.</p>")
    rows = []
    for spec in results.exercises:
        scores = [s.results[spec.name].score for s in students]
        full = sum(1 for x in scores if x >= results.maxima[spec.name] > 0)
        rows.append([escape(f"{spec.name}"), escape(spec.title), _fmt(results.maxima[spec.name]),
                     _fmt(statistics.mean(scores)) if scores else "–", _fmt(statistics.median(scores)) if scores else "–",
                     str(full)])  # fmt: skip
    rows.append(["<b>total</b>", "", _fmt(results.max_total), _fmt(statistics.mean(totals)) if totals else "–",
                 _fmt(statistics.median(totals)) if totals else "–",
                 str(sum(1 for t in totals if t >= results.max_total > 0))])  # fmt: skip
    lines.append(_table(["exercise", "title", "max", "mean", "median", "full marks"], rows, {2, 3, 4, 5}))
    parts.append(f'<section id="summary"><h2>Summary</h2>{"".join(lines)}</section>')

    # -- histograms
    figures = []
    for spec in results.exercises:
        png = _histogram_png([s.results[spec.name].score for s in students], results.maxima[spec.name], spec.name)
        figures.append(
            f'<figure><img src="data:image/png;base64,{png}" alt="histogram of {escape(spec.name)} scores">'
            f"<figcaption>{escape(spec.title)}</figcaption></figure>"
        )
    png = _histogram_png(totals, results.max_total, "total")
    figures.append(f'<figure><img src="data:image/png;base64,{png}" alt="histogram of total scores"><figcaption>total</figcaption></figure>')
    parts.append(f'<section id="histograms"><h2>Score histograms</h2><div class="figures">{"".join(figures)}</div></section>')

    # -- checks most students fail (graded students only: an error is not a failed check)
    failing: Counter = Counter()
    messages: dict[tuple[str, str], Counter] = defaultdict(Counter)
    mistakes: Counter = Counter()
    for s in graded:
        seen_mistakes = set()
        for name in results.names:
            for check in s.results[name].checks:
                if check.status == PASSED:
                    continue
                failing[(name, check.name)] += 1
                message = shown_message(check)  # a hidden check's: a fixed note, so no known mistake
                messages[(name, check.name)][message.split(". ")[0][:200]] += 1
                mistake = known_mistake(message)
                if mistake:
                    seen_mistakes.add((name, mistake))
        for key in seen_mistakes:
            mistakes[key] += 1
    n = max(1, len(graded))
    rows = []
    for (name, check), count in sorted(failing.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]:
        common = sorted(messages[(name, check)].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        rows.append([escape(name), escape(check), str(count), f"{100 * count / n:.0f}%", f'<span class="msg">{escape(common)}</span>'])
    body = _table(["exercise", "check", "students failing", "share", "most common message"], rows, {2, 3}) if rows else '<p class="none">No check failed.</p>'
    parts.append(f'<section id="failing-checks"><h2>Checks most students fail</h2>{body}</section>')

    rows = [[escape(name), escape(m), str(c), f"{100 * c / n:.0f}%"]
            for (name, m), c in sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]  # fmt: skip
    body = _table(["exercise", "known mistake", "students", "share"], rows, {2, 3}) if rows else '<p class="none">No known mistake was matched.</p>'
    parts.append(f'<section id="known-mistakes"><h2>Known mistakes most often matched</h2>{body}</section>')

    # -- errors
    rows = [[escape(s.id), escape(s.label), f'<span class="error">{escape(s.error)}</span>'] for s in errored]
    body = _table(["student", "submission", "why"], rows) if rows else '<p class="none">Every submission was graded.</p>'
    parts.append(f'<section id="errors"><h2>Students whose grading errored</h2>{body}</section>')

    # -- everyone
    rows = [[escape(s.id)] + [_fmt(s.results[name].score) for name in results.names] + [_fmt(s.total), escape(s.status_text)]
            for s in results.students]  # fmt: skip
    numeric = set(range(1, len(results.names) + 2))
    parts.append(f'<section id="students"><h2>All students</h2>{_table(["student", *results.names, "total", "status"], rows, numeric)}</section>')
    parts.extend(extra_sections)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(results: ClassResults, path: Path, extra_sections: Sequence[str] = ()) -> None:
    Path(path).write_text(render(results, extra_sections=extra_sections), encoding="utf-8")
