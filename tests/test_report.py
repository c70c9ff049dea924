"""report.html as a teacher reads it: every student with a link to their feedback,
failures split into "did not run" and "ran but gave wrong values", known mistakes from
the check results' own field, hidden checks badged and never revealed.

Records are built by hand (no grading) except in the last tests, which grade two
softmax submissions through the shared cache."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest

from grader.batch.records import ClassResults, StudentRecord, build, public_check
from grader.batch.report import DID_NOT_RUN, OTHER, RAN_WRONG, category, feedback_href, render
from grader.results import (
    ERROR,
    FAILED,
    GRADER_ERROR,
    NOT_IMPLEMENTED,
    PASSED,
    RAISED,
    TIMED_OUT,
    WRONG,
    CheckResult,
    ExerciseResult,
)

HOSTILE_IDS = ["<script>alert(1)</script>", "a\"b'c", "../../etc/passwd", "=cmd|' /C calc'!A0", "+1", "x&amp;y"]


@pytest.fixture(scope="module")
def softmax_spec():
    from grader.registry import load_registry

    return load_registry().select(["softmax"])[0]


class Page(HTMLParser):
    """Each section's tables (rows of cell texts), links and h3 headings, by section id."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.section = None
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.links: dict[str, list[tuple[str, str]]] = {}  # section -> (href, the row's first cell)
        self.headings: dict[str, list[str]] = {}
        self.sections: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._h3: list[str] | None = None
        self._hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.section = attrs.get("id")
            self.sections.append(self.section)
        elif tag == "table":
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self._row, self._hrefs = [], []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a" and self._row is not None:
            self._hrefs.append(attrs["href"])
        elif tag == "h3":
            self._h3 = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self.section][-1].append(self._row)
            for href in self._hrefs:
                self.links.setdefault(self.section, []).append((href, self._row[0]))
            self._row = None
        elif tag == "h3" and self._h3 is not None:
            self.headings.setdefault(self.section, []).append("".join(self._h3))
            self._h3 = None

    def handle_data(self, data):
        for sink in (self._cell, self._h3):
            if sink is not None:
                sink.append(data)


def _line(sid: str, checks: list[dict], status: str = "graded") -> dict:
    doc = {"exercise": "softmax", "score": sum(c["points"] for c in checks), "max_score": sum(c["max_points"] for c in checks),
           "device": "cpu", "seconds": 0.1, "checks": checks}  # fmt: skip
    return {"id": sid, "digest": "d", "fingerprint": "f", "status": status, "error": "", "retry": False, "exercises": [doc]}


def _check(name: str, outcome: str = "", mistake: str = "", hidden: bool = False, status: str = "", message: str = "") -> dict:
    passed = not outcome and not status
    doc = CheckResult(name, 1.0 if passed else 0.0, 1.0, status or (PASSED if passed else FAILED),
                      message or (f"{name}: {outcome or 'ok'}"), hidden, mistake, outcome)  # fmt: skip
    return doc.to_json()


def _class(spec, lines: list[dict], missing=()) -> ClassResults:
    return build([spec], {d["id"]: d for d in lines}, {d["id"]: f"{d['id']}.py" for d in lines}, list(missing))


# --------------------------------------------------------------------------- the field


def test_mistake_and_outcome_round_trip_through_json_and_are_left_out_when_unset():
    check = CheckResult("test_values", 0.0, 2.0, FAILED, "off. This looks like a known mistake: m", False, "m", WRONG)
    result = ExerciseResult("softmax", "cpu", 0.5, [check, CheckResult("test_ok", 1.0, 1.0, PASSED)])
    back = ExerciseResult.from_json(json.loads(json.dumps(result.to_json())))
    assert back.checks == result.checks
    assert back.checks[0].mistake == "m" and back.checks[0].outcome == WRONG
    assert "mistake" not in result.checks[1].to_json() and "outcome" not in result.checks[1].to_json()
    # A result written before these fields existed reads back with them empty.
    old = {"name": "t", "points": 0, "max_points": 1, "status": FAILED, "message": "x"}
    assert (CheckResult.from_json(old).mistake, CheckResult.from_json(old).outcome) == ("", "")


def test_the_plugin_records_outcome_and_mistake_from_the_exception():
    from grader.compare import CheckFailure
    from grader.plugin import _failure_for
    from grader.remote import KitOutOfDate, StudentError

    def failure(exc):
        return _failure_for(SimpleNamespace(value=exc))

    f = failure(CheckFailure("off. This looks like a known mistake: m", mistake="m"))
    assert (f.kind, f.outcome, f.mistake, f.message) == ("failed", WRONG, "m", "off. This looks like a known mistake: m")
    assert failure(CheckFailure("off. This looks like a known mistake: m")).mistake == ""  # never parsed back
    assert failure(AssertionError("plain assert")).outcome == WRONG
    assert failure(StudentError("softmax is not implemented yet", "NotImplementedError")).outcome == NOT_IMPLEMENTED
    assert failure(StudentError("did not return", "Timeout")).outcome == TIMED_OUT
    assert failure(StudentError("raised ValueError", "ValueError")).outcome == RAISED
    assert failure(StudentError("ended the worker", "WorkerDied")).outcome == RAISED
    assert failure(KitOutOfDate("not recorded")).outcome == GRADER_ERROR
    assert failure(RuntimeError("bug in a check")).kind == "error"
    # A check that explains the submission's exception in its own words: the code raised.
    try:
        try:
            raise StudentError("load_gpt2 is not implemented yet", "NotImplementedError")
        except StudentError as exc:
            raise CheckFailure(f"load_gpt2 failed: {exc}") from None
    except CheckFailure as exc:
        assert failure(exc).outcome == NOT_IMPLEMENTED


def test_a_hidden_checks_mistake_is_dropped_from_every_record_but_a_visible_ones_is_kept(softmax_spec):
    lines = [_line("a", [_check("test_visible", WRONG, "visible mistake"), _check("test_secret", WRONG, "SECRET-MISTAKE", hidden=True)])]
    (a,) = _class(softmax_spec, lines).students
    visible, hidden = a.results["softmax"].checks
    assert visible.mistake == "visible mistake" and hidden.mistake == ""
    assert hidden.outcome == WRONG  # how it failed is not a secret; its inputs and mistake are
    assert public_check(CheckResult("t", 0, 1, FAILED, "SECRET", True, "SECRET-MISTAKE", WRONG)).mistake == ""


# --------------------------------------------------------------------------- the student table


def test_every_student_is_in_the_table_with_a_working_link_to_their_feedback(tmp_path, softmax_spec):
    from grader.batch.run import write_outputs

    ids = [f"s{i:02d}" for i in range(20)] + ["<img src=x onerror=alert(1)>", "a\"b'c", "=cmd|calc!A0", "50% & more", "é ü"]
    lines = {sid: _line(sid, [_check("test_a", WRONG if i % 3 else ""), _check("test_b")]) for i, sid in enumerate(ids)}
    out = tmp_path / "out"
    out.mkdir()
    write_outputs(out, [softmax_spec], lines, {k: f"{k}.py" for k in lines}, None, ["late-student"])
    page = Page((out / "report.html").read_text(encoding="utf-8"))
    header, *rows = page.tables["students"][0]
    assert header == ["student", "softmax", "total", "status", "feedback"]
    assert sorted(r[0] for r in rows) == sorted(ids + ["late-student"])
    links = dict((cell, href) for href, cell in page.links["students"])
    assert sorted(links) == sorted(ids)  # the missing student has no feedback to link
    for sid, href in links.items():
        assert not urlsplit(href).scheme and not href.startswith("/")
        target = out / unquote(href)
        assert target.is_file(), sid
        assert target.read_text(encoding="utf-8").startswith(f"Grade for {sid}:")


def test_hostile_ids_are_escaped_in_the_text_and_encoded_in_the_href(softmax_spec):
    lines = [_line(sid, [_check("test_a", WRONG)]) for sid in HOSTILE_IDS]
    html = render(_class(softmax_spec, lines))
    assert "<script>alert" not in html and "</script>" not in html.replace("</script>\n</body>", "")
    page = Page(html)
    assert sorted(r[0] for r in page.tables["students"][0][1:]) == sorted(HOSTILE_IDS)  # escaped, so read back exactly
    for href, sid in page.links["students"]:
        segment = href.removeprefix("students/").removesuffix("/feedback.txt")
        assert "/" not in segment, href  # one path segment: "../" cannot climb out of students/
        assert not set(segment) & set("<>\"' |=&+"), href  # percent-encoded
        assert unquote(segment) == sid
        assert href == feedback_href(sid)
    assert feedback_href("../../etc/passwd") == "students/..%2F..%2Fetc%2Fpasswd/feedback.txt"


def test_the_student_table_sorts_numbers_as_numbers_and_works_without_script(softmax_spec):
    html = render(_class(softmax_spec, [_line("a", [_check("test_a")]), _line("b", [_check("test_a", WRONG)])]))
    assert '<table class="sortable">' in html and "<script>" in html
    # Numeric cells carry their exact value for the script; the table itself is complete without it.
    assert '<td class="num" data-sort="1.0">1</td>' in html and '<td class="num" data-sort="0.0">0</td>' in html
    assert 'th.classList.contains("num")' in html and "parseFloat" in html
    assert "src=" not in html.replace('src="data:image/png;base64,', "")  # nothing loaded from elsewhere


# --------------------------------------------------------------------------- failures split by outcome


def _failing(html: str) -> dict[str, list[list[str]]]:
    """failing-checks as heading -> rows (without the header row)."""
    page = Page(html)
    return {h: t[1:] for h, t in zip(page.headings["failing-checks"], page.tables["failing-checks"])}


def test_failures_are_split_into_did_not_run_and_wrong_values(softmax_spec):
    lines = [
        _line("a", [_check("test_values", NOT_IMPLEMENTED), _check("test_grad", NOT_IMPLEMENTED), _check("test_dtype")]),
        _line("b", [_check("test_values", NOT_IMPLEMENTED), _check("test_grad", TIMED_OUT), _check("test_dtype")]),
        _line("c", [_check("test_values", WRONG, "no max subtraction"), _check("test_grad", RAISED), _check("test_dtype", WRONG)]),
        _line("d", [_check("test_values", WRONG, "no max subtraction"), _check("test_grad"), _check("test_dtype", WRONG)]),
        _line("e", [_check("test_values", WRONG), _check("test_grad", status=ERROR), _check("test_dtype")]),
        _line("f", [_check("test_values", ""), _check("test_grad", "forbidden"), _check("test_dtype")]),
    ]
    results = _class(softmax_spec, lines)
    html = render(results)
    tables = _failing(html)
    wrong = {r[1]: (r[2], r[3]) for r in tables["Ran but gave wrong values"]}
    assert wrong == {"test_values": ("3", "50%"), "test_dtype": ("2", "33%")}
    not_run = {r[1]: (r[2], r[4]) for r in tables["Did not run (not implemented, raised, timed out)"]}
    assert not_run["test_values"] == ("2", "not implemented 2")
    assert not_run["test_grad"][0] == "4"
    assert not_run["test_grad"][1].splitlines() == ["grader error 1", "not implemented 1", "raised or crashed 1", "timed out 1"]
    other = {r[1]: r[4] for r in tables["Failed for another reason"]}  # a handout rule, or an older record
    assert other == {"test_grad": "broke a handout rule 1"}
    assert "8 ran but gave wrong values" not in html and "5 ran but gave wrong values; 6 did not run" in html
    mistakes = Page(html).tables["known-mistakes"][0][1:]
    assert mistakes == [["softmax", "no max subtraction", "2", "33%"]]
    assert [category(CheckResult("t", 0, 1, FAILED, outcome=o)) for o in (WRONG, NOT_IMPLEMENTED, "forbidden", "")] == [
        RAN_WRONG, DID_NOT_RUN, OTHER, OTHER]
    assert category(CheckResult("t", 0, 1, ERROR)) == DID_NOT_RUN


def test_hidden_checks_are_badged_and_their_mistake_never_reaches_the_page(softmax_spec):
    secret = "SECRET-MISTAKE-NAME"
    lines = [_line(sid, [_check("test_hidden_values", WRONG, secret, hidden=True, message=f"x = tensor([9.]): {secret}"),
                         _check("test_hidden_import", RAISED, hidden=True), _check("test_visible", WRONG)])
             for sid in ("a", "b")]  # fmt: skip
    html = render(_class(softmax_spec, lines))
    assert secret not in html and "tensor([9.])" not in html
    assert "No known mistake was matched." in html
    tables = _failing(html)
    names = [r[1] for rows in tables.values() for r in rows]
    assert sorted(names) == ["test_hidden_import hidden", "test_hidden_values hidden", "test_visible"]
    assert html.count('<span class="badge"') == 2
    # Even a record built by hand, never passed through records.build, is redacted.
    record = StudentRecord("z", "graded", "z.py", results={"softmax": ExerciseResult(
        "softmax", "cpu", checks=[CheckResult("test_h", 0.0, 1.0, FAILED, secret, True, secret, WRONG)])})
    assert secret not in render(ClassResults([softmax_spec], {"softmax": 1.0}, [record]))


# --------------------------------------------------------------------------- the page


def test_extra_sections_come_last_verbatim_and_the_page_is_deterministic(softmax_spec):
    results = _class(softmax_spec, [_line("a", [_check("test_a", WRONG)])])
    extra = ['<section id="similarity"><h2>Similar pairs</h2><p>trusted &amp; escaped</p></section>', "<section id=z></section>"]
    html = render(results, extra_sections=extra)
    page = Page(html)
    assert page.sections == ["summary", "histograms", "failing-checks", "known-mistakes", "errors", "students", "similarity", "z"]
    assert extra[0] + "\n" + extra[1] in html
    assert render(results, extra_sections=extra) == html


def test_a_graded_submission_records_its_mistake_and_outcome():
    from conftest import graded

    wrong_dim = {c.name: c for c in graded("softmax", "wrong_dim.py").checks}
    values = wrong_dim["test_values_match_reference"]
    assert values.outcome == WRONG
    assert values.mistake and values.mistake in values.message  # the student still reads it
    assert values.message.endswith(f"This looks like a known mistake: {values.mistake}")
    assert all(c.outcome == WRONG for c in wrong_dim.values() if c.status != PASSED)
    assert all(c.outcome == "" for c in wrong_dim.values() if c.status == PASSED)


def test_a_stub_did_not_run():
    from conftest import grade_file

    checks = grade_file("softmax").checks
    assert checks and {(c.status, c.outcome, c.mistake) for c in checks} == {(FAILED, NOT_IMPLEMENTED, "")}


def test_every_check_file_that_names_a_known_mistake_also_records_it():
    # The report reads CheckResult.mistake only: a check that writes the sentence itself
    # must pass the name to CheckFailure too (grader.compare.expect_close does).
    from grader.registry import load_registry

    for spec in load_registry().select(None):
        for path in [*spec.checks, *spec.hidden_checks]:
            text = Path(path).read_text(encoding="utf-8")
            if "known mistake: {" in text:
                assert text.count("known mistake: {") <= text.count("mistake="), path


def test_a_table_cut_at_its_top_rows_says_how_many_it_leaves_out(softmax_spec):
    from grader.batch.report import TOP

    checks = [_check(f"test_{i:02d}", NOT_IMPLEMENTED) for i in range(TOP + 3)] + [_check("test_values", WRONG)]
    html = render(_class(softmax_spec, [_line("a", checks)]))
    assert len(_failing(html)["Did not run (not implemented, raised, timed out)"]) == TOP
    assert "… and 3 more checks, each with fewer students." in html
    assert "more checks" not in render(_class(softmax_spec, [_line("a", checks[:TOP] + checks[-1:])]))
