"""report.html against hostile ids and messages, and the teacher table under a late policy:
links stay one relative path segment whatever the id (``javascript:``, percent tricks,
``?``/``#``, 200-character ids), a megabyte error does not become a megabyte page, and the
table shows the grade after the late penalty, not only the raw total."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

from grader.batch.late import LateSettings, Times, apply, parse_policy
from grader.batch.report import feedback_href, render
from grader.results import RAISED, WRONG
from test_report import Page, _check, _class, _line, softmax_spec  # noqa: F401 (a fixture)

TRICKY_IDS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>", "//evil.example/x",
    "%2e%2e", "..%2F..%2Fetc", "a?b#c", "\u202eevil", "x\ny", "</td></tr><tr><td>fake", "&#x3C;script&#x3E;",
    "%", "a" * 200,
]  # fmt: skip


def test_tricky_ids_link_to_their_own_folder_and_read_back_exactly(softmax_spec):
    html = render(_class(softmax_spec, [_line(sid, [_check("test_a", WRONG)]) for sid in TRICKY_IDS]))
    page = Page(html)
    assert sorted(r[0] for r in page.tables["students"][0][1:]) == sorted(TRICKY_IDS)
    for href, sid in page.links["students"]:
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc and not parts.query and not parts.fragment, href
        segment = href.removeprefix("students/").removesuffix("/feedback.txt")
        assert "/" not in segment and unquote(segment) == sid
        assert href == feedback_href(sid)
    assert "<script>x" not in html


def test_a_huge_error_is_cut_in_the_page_and_whole_in_the_feedback(softmax_spec):
    from grader.batch.feedback import feedback_text

    errored = _line("boom", [], status="error")
    errored["error"] = "E" * 2_000_000 + "<img src=x onerror=alert(1)>"
    results = _class(softmax_spec, [errored, _line("ok", [_check("test_a", RAISED, message="M" * 500_000)])])
    html = render(results)
    assert len(html) < 300_000 and "<img src=x" not in html
    assert "E" * 900 in html
    record = next(s for s in results.students if s.id == "boom")
    assert "E" * 2_000_000 in feedback_text(record, results).replace("\n", "").replace(" ", "")


def test_with_a_late_policy_the_table_shows_the_penalty_and_the_final_grade(softmax_spec):
    due = datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc)
    lines = [_line(sid, [_check("test_a"), _check("test_b")]) for sid in ("early", "late", "unknown")]
    results = _class(softmax_spec, lines, missing=["absent"])
    times = Times({"early": due - timedelta(hours=1), "late": due + timedelta(hours=30)})
    apply(LateSettings(due, parse_policy("25%/day"), times), results, {})
    table = Page(render(results)).tables["students"][0]
    header = table[0]
    assert header[-4:] == ["late penalty", "final", "status", "feedback"]
    rows = {r[0]: dict(zip(header, r)) for r in table[1:]}
    assert (rows["late"]["total"], rows["late"]["late penalty"], rows["late"]["final"]) == ("2", "1", "1")  # 2 days of 25% of 2
    assert rows["early"]["final"] == "2" and "on time" in rows["early"]["status"]
    assert "time unknown" in rows["unknown"]["status"] and rows["unknown"]["final"] == "2"
    assert rows["absent"]["final"] == "" and rows["absent"]["late penalty"] == ""


def test_without_a_deadline_the_table_is_as_before(softmax_spec):
    header = Page(render(_class(softmax_spec, [_line("a", [_check("test_a")])]))).tables["students"][0][0]
    assert header == ["student", "softmax", "total", "status", "feedback"]
