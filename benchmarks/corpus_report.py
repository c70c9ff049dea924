"""Grades the corpus of student-like attempts and reports how the grader does on it.

    python benchmarks/corpus_report.py [--json] [EXERCISE ...]

The corpus (tests/submissions/corpus/<exercise>/{correct,wrong}/, written by its
make_corpus.py) holds correct attempts written differently from the reference and
realistic wrong ones; each exercise's index.json names the mistake of every wrong attempt
and a keyword a message naming it contains. Reported, per exercise and in all:

- correct attempts with full marks (should be all of them),
- wrong attempts with less than full marks (should be all of them),
- wrong attempts whose failure messages name the mistake (keyword found),
- checks that ERROR, i.e. the grader itself failed (must be 0),
- the seconds to answer an endless loop (the attempt whose mistake is "an endless loop").

Everything is graded in this one process, through grader.api (one warm zygote).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.api import GradeOptions, Limits, grade_exercises, submission_for  # noqa: E402
from grader.registry import load_registry  # noqa: E402
from grader.results import ExerciseResult  # noqa: E402

CORPUS = ROOT / "tests" / "submissions" / "corpus"
ENDLESS = "an endless loop"


@dataclass
class Attempt:
    exercise: str
    kind: str  # correct | wrong
    path: Path
    mistake: str = ""
    keyword: str = ""
    score: float = 0.0
    max_score: float = 0.0
    errors: list[str] = field(default_factory=list)  # checks whose status is "error"
    named: bool = False
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return self.max_score > 0 and self.score >= self.max_score


def attempts(names: list[str] | None = None) -> list[Attempt]:
    out = []
    for folder in sorted(p for p in CORPUS.iterdir() if (p / "index.json").is_file()):
        if names and folder.name not in names:
            continue
        index = json.loads((folder / "index.json").read_text())
        for name in sorted(index["correct"]):
            out.append(Attempt(folder.name, "correct", folder / "correct" / name))
        for name, entry in sorted(index["wrong"].items()):
            out.append(Attempt(folder.name, "wrong", folder / "wrong" / name, entry["mistake"], entry["keyword"]))
    return out


def names_mistake(result: ExerciseResult, keyword: str) -> bool:
    text = " ".join(c.message for c in result.checks if c.status != "passed").lower()
    return any(k.strip().lower() in text for k in keyword.split("|") if k.strip())


def grade_attempt(attempt: Attempt, registry, options: GradeOptions) -> Attempt:
    spec = registry.get(attempt.exercise)
    sub = submission_for(attempt.path, [spec], registry)
    for module in spec.requires:  # e.g. gpt2_loading's decoder_block: a correct one beside the folders
        beside = CORPUS / attempt.exercise / f"{module}.py"
        if beside.is_file():
            sub.files[module] = beside
    start = time.monotonic()
    result = grade_exercises([attempt.exercise], sub, options, registry)[0]
    attempt.seconds = time.monotonic() - start
    attempt.score, attempt.max_score = result.score, result.max_score
    attempt.errors = [c.name for c in result.checks if c.status == "error"]
    attempt.messages = [f"{c.name}: {c.message}" for c in result.checks if c.status != "passed"]
    if attempt.kind == "wrong":
        attempt.named = names_mistake(result, attempt.keyword)
    return attempt


def run(names: list[str] | None = None, options: GradeOptions | None = None) -> tuple[list[Attempt], dict]:
    """Grade every attempt (of ``names``, or all) in this process; (attempts, summary)."""
    registry = load_registry()
    options = options or GradeOptions(device="cpu", seed=0)
    graded = [grade_attempt(a, registry, options) for a in attempts(names)]
    return graded, summarise(graded)


def summarise(graded: list[Attempt]) -> dict:
    def figures(items: list[Attempt]) -> dict:
        correct = [a for a in items if a.kind == "correct"]
        wrong = [a for a in items if a.kind == "wrong"]
        endless = [a.seconds for a in wrong if a.mistake == ENDLESS]
        return {
            "correct_full_marks": f"{sum(a.full for a in correct)}/{len(correct)}",
            "wrong_below_full": f"{sum(not a.full for a in wrong)}/{len(wrong)}",
            "wrong_named": f"{sum(a.named for a in wrong)}/{len(wrong)}",
            "error_checks": sum(len(a.errors) for a in items),
            "endless_loop_seconds": round(max(endless), 1) if endless else None,
            "seconds": round(sum(a.seconds for a in items), 1),
        }

    exercises = sorted({a.exercise for a in graded}, key=[a.exercise for a in graded].index)
    return {"total": figures(graded), **{e: figures([a for a in graded if a.exercise == e]) for e in exercises}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", "-v", action="store_true", help="every attempt's messages")
    parser.add_argument("--public-only", action="store_true", help="leave out the hidden checks")
    parser.add_argument("--call-seconds", type=float, default=Limits().call_seconds,
                        help="the limit on one call into student code (the grader's default unless given)")
    args = parser.parse_args()
    options = GradeOptions(device="cpu", seed=0, include_hidden=False if args.public_only else None,
                           limits=Limits(call_seconds=args.call_seconds))
    graded, summary = run(args.exercises or None, options)
    if args.json:
        print(json.dumps({"summary": summary, "attempts": [
            {"exercise": a.exercise, "kind": a.kind, "file": a.path.name, "score": a.score, "max": a.max_score,
             "named": a.named, "errors": a.errors, "seconds": round(a.seconds, 2), "mistake": a.mistake}
            for a in graded]}, indent=1))
        return 0
    for a in graded:
        flag = "ok " if (a.full if a.kind == "correct" else not a.full) else "BAD"
        named = "" if a.kind == "correct" else (" named" if a.named else " NOT NAMED")
        err = f" ERROR in {', '.join(a.errors)}" if a.errors else ""
        print(f"{flag} {a.exercise:20} {a.kind:7} {a.path.name:24} {a.score:g}/{a.max_score:g}{named}{err} ({a.seconds:.1f} s)")
        if args.verbose or (a.kind == "wrong" and not a.named) or flag == "BAD":
            for m in a.messages[:4]:
                print(f"      {m[:300]}")
    print()
    header = ["exercise", "correct full", "wrong < full", "wrong named", "ERROR", "endless s", "seconds"]
    print(" | ".join(header))
    for name, f in summary.items():
        print(" | ".join(str(x) for x in (name, f["correct_full_marks"], f["wrong_below_full"], f["wrong_named"],
                                          f["error_checks"], f["endless_loop_seconds"], f["seconds"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
