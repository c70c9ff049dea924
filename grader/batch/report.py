"""RESULTS/report.html: one self-contained page about the class.

Sections (each a ``<section id=...>``): ``summary`` (counts and per-exercise statistics),
``histograms`` (score histogram per exercise and of the total, inline SVG from
grader.batch.histogram), ``failing-checks`` (the checks most
students fail, split by what their results record: the code ran but gave wrong values,
or it did not run: not implemented, raised, timed out), ``known-mistakes`` (the known
mistakes most often matched, from each check result's ``mistake``), ``errors`` (students
whose grading errored, and why) and ``students`` (everyone: score per exercise, total,
with --deadline the late penalty and the final grade, status, a link to their
feedback.txt; sortable by a small inline script, and still a
plain table without it); then any ``extra_sections`` a caller passes (trusted HTML,
e.g. the similarity section). A hidden check carries a "hidden" badge wherever it is
named, and neither its message nor its mistake is shown. Nothing time-dependent is
written, so the same grades give the same page.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from grader.batch.histogram import histogram_svg
from grader.batch.job import MISSING
from grader.batch.records import ClassResults, StudentRecord, public_check, shown_message
from grader.results import (
    ERROR,
    FORBIDDEN,
    GRADER_ERROR,
    NOT_IMPLEMENTED,
    NOT_SUBMITTED,
    PASSED,
    RAISED,
    SKIPPED,
    TIMED_OUT,
    WRONG,
    CheckResult,
)

TOP = 20

# The report's split of failures (CheckResult.outcome -> category). A grader error is
# counted with "did not run": the student's code was not (fully) exercised.
RAN_WRONG, DID_NOT_RUN, OTHER = "ran but gave wrong values", "did not run", "failed for another reason"
DID_NOT_RUN_OUTCOMES = (NOT_IMPLEMENTED, RAISED, TIMED_OUT, NOT_SUBMITTED, SKIPPED, GRADER_ERROR)
OUTCOME_WORDS = {
    NOT_IMPLEMENTED: "not implemented", RAISED: "raised or crashed", TIMED_OUT: "timed out",
    NOT_SUBMITTED: "nothing submitted", SKIPPED: "skipped", GRADER_ERROR: "grader error",
    FORBIDDEN: "broke a handout rule", WRONG: "wrong values", "": "reason not recorded",
}  # fmt: skip


def category(check: CheckResult) -> str:
    """Which of RAN_WRONG, DID_NOT_RUN, OTHER a check that did not pass falls in."""
    if check.outcome == WRONG:
        return RAN_WRONG
    if check.outcome in DID_NOT_RUN_OUTCOMES or check.status == ERROR:
        return DID_NOT_RUN
    return OTHER  # a handout rule broken, or a result recorded before outcomes were


def feedback_href(student_id: str) -> str:
    """The link from report.html to a student's feedback (run.write_outputs writes
    students/<id>/feedback.txt beside it), the id percent-encoded as one path segment."""
    return f"students/{quote(student_id, safe='')}/feedback.txt"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .25em .7em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num, th.num { text-align: right; }
table.js th { cursor: pointer; user-select: none; } table.js th:hover { background: #e8eef5; }
th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; } figcaption { font-size: .9em; color: #555; }
.msg { font-family: ui-monospace, monospace; font-size: .85em; color: #444; max-width: 50em; }
.badge { display: inline-block; font-size: .75em; padding: 0 .45em; border-radius: .6em; background: #6a5acd; color: #fff; vertical-align: middle; }
.why { white-space: nowrap; } .error { color: #a00; } .none { color: #777; font-style: italic; } .hint { color: #555; font-size: .9em; }
"""

# Sorts every table.sortable by the clicked column (again: the other way). Numeric
# columns (th.num) sort by each cell's data-sort value; rows that tie keep their order.
# Without JavaScript the table is the same, in its written order.
SORT_SCRIPT = """
(function () {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.classList.add("js");
    var hint = table.previousElementSibling;
    if (hint && hint.classList.contains("hint")) hint.hidden = false;
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      var numeric = th.classList.contains("num");
      function key(row) {
        var cell = row.cells[col], v = cell.getAttribute("data-sort");
        if (v === null) v = cell.textContent;
        if (!numeric) return v.toLowerCase();
        var x = parseFloat(v);
        return isNaN(x) ? -Infinity : x;
      }
      function sort() {
        var up = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.map.call(body.rows, function (r, i) { return [key(r), i, r]; });
        rows.sort(function (a, b) {
          var d = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
          return (up ? d : -d) || a[1] - b[1];
        });
        rows.forEach(function (r) { body.appendChild(r[2]); });
      }
      th.tabIndex = 0;
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
})();
"""


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset(), *, sortable: bool = False) -> str:
    """An HTML table. Cells are trusted HTML strings, or numbers (written with _fmt and
    kept exact in data-sort, so a sortable column sorts numerically)."""
    head = "".join(f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>" for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            if isinstance(c, (int, float)):
                cells.append(f'<td class="num" data-sort="{float(c)!r}">{_fmt(c)}</td>')
            else:
                cells.append(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    attrs = ' class="sortable"' if sortable else ""
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x != int(x) else f"{int(x)}"


def _check_name(check: str, hidden: bool) -> str:
    return escape(check) + (' <span class="badge" title="hidden check: instructor grading only">hidden</span>' if hidden else "")


def render(results: ClassResults, title: str = "Batch grading report", extra_sections: Sequence[str] = ()) -> str:
    """The page. ``extra_sections``: trusted, already-rendered HTML fragments (each
    escaped by its producer, e.g. a ``<section id=...>``) appended after the built-in
    sections, in the given order."""
    failures = _Failures.of(results)
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>',
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
        _summary(results),
        _histograms(results),
        _failing_checks(failures),
        _known_mistakes(failures),
        _errors(results),
        _students(results),
        *extra_sections,
        f"<script>{SORT_SCRIPT}</script>",
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _summary(results: ClassResults) -> str:
    students = results.submitted()
    graded, errored = results.graded(), results.errored()
    missing = [s for s in results.students if s.status == MISSING]
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
    return f'<section id="summary"><h2>Summary</h2>{"".join(lines)}</section>'


def _histograms(results: ClassResults) -> str:
    students = results.submitted()
    figures = []
    for spec in results.exercises:
        svg = histogram_svg([s.results[spec.name].score for s in students], results.maxima[spec.name], spec.name)
        figures.append(f"<figure>{svg}<figcaption>{escape(spec.title)}</figcaption></figure>")
    svg = histogram_svg([s.total for s in students], results.max_total, "total")
    figures.append(f"<figure>{svg}<figcaption>total</figcaption></figure>")
    return f'<section id="histograms"><h2>Score histograms</h2><div class="figures">{"".join(figures)}</div></section>'


@dataclass
class _Failures:
    """Who failed which check and how, over the graded students (an errored student's
    grading failed, not their checks). Keys: (exercise, check name)."""

    graded: int = 0
    students: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # category -> key -> students
    outcomes: dict[tuple[str, tuple[str, str]], Counter] = field(default_factory=lambda: defaultdict(Counter))  # (category, key) -> outcome -> students
    messages: dict[tuple[str, tuple[str, str]], Counter] = field(default_factory=lambda: defaultdict(Counter))  # (category, key) -> first sentences
    hidden: set[tuple[str, str]] = field(default_factory=set)
    mistakes: Counter = field(default_factory=Counter)  # (exercise, mistake) -> students

    @classmethod
    def of(cls, results: ClassResults) -> "_Failures":
        found = cls()
        for s in results.graded():
            found.graded += 1
            seen_mistakes = set()
            for name in results.names:
                for check in s.results[name].checks:
                    if check.status == PASSED:
                        continue
                    check = public_check(check)  # a hidden check: a fixed note and no mistake
                    key = (name, check.name)
                    kind = category(check)
                    found.students[kind][key] += 1
                    # A grading error recorded without an outcome (an older result) is the grader's.
                    found.outcomes[(kind, key)][check.outcome or (GRADER_ERROR if check.status == ERROR else "")] += 1
                    found.messages[(kind, key)][shown_message(check).split(". ")[0][:200]] += 1
                    if check.hidden:
                        found.hidden.add(key)
                    if check.mistake:
                        seen_mistakes.add((name, check.mistake))
            for key in seen_mistakes:
                found.mistakes[key] += 1
        return found

    def common(self, kind: str, key: tuple[str, str]) -> str:
        """The most common message (its first sentence) of ``kind``'s failures of check ``key``, as HTML."""
        return f'<span class="msg">{escape(_top(self.messages[(kind, key)])[0][0])}</span>'

    def share(self, count: int) -> str:
        return f"{100 * count / max(1, self.graded):.0f}%"


def _top(counts: Counter) -> list[tuple[tuple[str, str], int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


def _more(counts: Counter, what: str = "checks") -> str:
    """The line under a table cut at TOP rows, saying how many it leaves out (as HTML)."""
    left = len(counts) - TOP
    return f'<p class="none">… and {left} more {what}, each with fewer students.</p>' if left > 0 else ""


def _failing_checks(f: _Failures) -> str:
    total = {kind: sum(f.students[kind].values()) for kind in (RAN_WRONG, DID_NOT_RUN, OTHER)}
    if not any(total.values()):
        return '<section id="failing-checks"><h2>Checks most students fail</h2><p class="none">No check failed.</p></section>'
    by_outcome: Counter = Counter()
    for counts in f.outcomes.values():
        by_outcome.update(counts)
    not_run = ", ".join(f"{OUTCOME_WORDS[o]} {by_outcome[o]}" for o in DID_NOT_RUN_OUTCOMES if by_outcome[o])
    parts = [f"<p>Failed checks of the {f.graded} graded students: {total[RAN_WRONG]} ran but gave wrong values; "
             f"{total[DID_NOT_RUN]} did not run" + (f" ({escape(not_run)})" if not_run else "")
             + (f"; {total[OTHER]} failed for another reason" if total[OTHER] else "") + ".</p>"]  # fmt: skip

    header = ["exercise", "check", "students failing", "share"]
    rows = []
    for key, count in _top(f.students[RAN_WRONG]):
        rows.append([escape(key[0]), _check_name(key[1], key in f.hidden), str(count), f.share(count), f.common(RAN_WRONG, key)])
    body = _table(header + ["most common message"], rows, {2, 3}) if rows else '<p class="none">No check gave wrong values.</p>'
    parts.append(f"<h3>Ran but gave wrong values</h3>{body}{_more(f.students[RAN_WRONG])}")

    for kind, heading, empty in ((DID_NOT_RUN, "Did not run (not implemented, raised, timed out)", "Every failed check ran."),
                                 (OTHER, "Failed for another reason", "")):  # fmt: skip
        rows = [[escape(key[0]), _check_name(key[1], key in f.hidden), str(count), f.share(count),
                 _why(f.outcomes[(kind, key)]), f.common(kind, key)]
                for key, count in _top(f.students[kind])]  # fmt: skip
        if rows:
            table = _table(header + ['why', 'most common message'], rows, {2, 3})
            parts.append(f"<h3>{heading}</h3>{table}{_more(f.students[kind])}")
        elif empty:
            parts.append(f'<h3>{heading}</h3><p class="none">{empty}</p>')
    return f'<section id="failing-checks"><h2>Checks most students fail</h2>{"".join(parts)}</section>'


def _why(outcomes: Counter) -> str:
    """How the students of one category failed one check, as HTML: "not implemented 12", "timed out 2", one a line."""
    ranked = sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
    return "<br>".join(f'<span class="why">{escape(OUTCOME_WORDS.get(o, o))} {n}</span>' for o, n in ranked)


def _known_mistakes(f: _Failures) -> str:
    rows = [[escape(name), escape(m), str(c), f.share(c)] for (name, m), c in _top(f.mistakes)]
    body = _table(["exercise", "known mistake", "students", "share"], rows, {2, 3}) if rows else '<p class="none">No known mistake was matched.</p>'
    return f'<section id="known-mistakes"><h2>Known mistakes most often matched</h2>{body}{_more(f.mistakes, "mistakes")}</section>'


def _errors(results: ClassResults) -> str:
    # The whole error is in the student's feedback.txt; a page of hundreds holds its start.
    rows = [[escape(s.id), escape(s.label), f'<span class="error">{escape(_cut(s.error, 1000))}</span>'] for s in results.errored()]
    body = _table(["student", "submission", "why"], rows) if rows else '<p class="none">Every submission was graded.</p>'
    return f'<section id="errors"><h2>Students whose grading errored</h2>{body}</section>'


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _feedback_link(student: StudentRecord) -> str:
    if student.status == MISSING:  # nothing submitted: no folder, no feedback
        return '<span class="none">none</span>'
    return f'<a href="{escape(feedback_href(student.id))}">feedback</a>'


def _students(results: ClassResults) -> str:
    # With --deadline the grade is the total after the late penalty (grader.batch.late): show both.
    late = any(s.late is not None for s in results.students)
    rows = []
    for s in results.students:
        row = [escape(s.id), *(s.results[name].score for name in results.names), s.total]
        if late:
            row += [s.late.penalty, s.final] if s.late is not None else ["", ""]
        status = s.status_text + (f", {s.late.status}" if s.late is not None else "")
        rows.append([*row, escape(status), _feedback_link(s)])
    header = ["student", *results.names, "total", *(["late penalty", "final"] if late else []), "status", "feedback"]
    numeric = set(range(1, len(header) - 2))
    table = _table(header, rows, numeric, sortable=True)
    hint = '<p class="hint" hidden>Click a column heading to sort by it; click again to reverse.</p>'
    return f'<section id="students"><h2>All students</h2>{hint}{table}</section>'


def write_report(results: ClassResults, path: Path, extra_sections: Sequence[str] = ()) -> None:
    Path(path).write_text(render(results, extra_sections=extra_sections), encoding="utf-8")
