"""Results as dataclasses, and their one JSON schema (``grade exercise --json``)."""

from __future__ import annotations

from dataclasses import dataclass, field

PASSED, FAILED, ERROR = "passed", "failed", "error"


# What a check that did not pass records about why (CheckResult.outcome). WRONG: the
# submission ran and the check's assertion failed on what it returned; every other
# outcome means the checked code did not run to the end.
WRONG = "wrong"
NOT_IMPLEMENTED = "not_implemented"  # the submission raised NotImplementedError (a stub)
RAISED = "raised"  # it raised, crashed its worker or could not be imported
TIMED_OUT = "timed_out"  # a call or its import ran past the time limit
NOT_SUBMITTED = "not_submitted"  # nothing to grade: no file, not a notebook, ...
FORBIDDEN = "forbidden"  # it used what the handout forbids (grader.rules)
SKIPPED = "skipped"
GRADER_ERROR = "grader_error"  # the grader itself failed
OUTCOMES = (WRONG, NOT_IMPLEMENTED, RAISED, TIMED_OUT, NOT_SUBMITTED, FORBIDDEN, SKIPPED, GRADER_ERROR)


@dataclass
class CheckResult:
    name: str
    points: float  # points earned
    max_points: float
    status: str  # passed | failed | error (error: the grader itself failed)
    message: str = ""
    hidden: bool = False
    mistake: str = ""  # the known mistake the output matched (grader.compare), if any
    outcome: str = ""  # why it did not pass (one of OUTCOMES); "" for a pass or an old record

    def to_json(self) -> dict:
        doc = {k: getattr(self, k) for k in ("name", "points", "max_points", "status", "message")}
        if self.hidden:
            doc["hidden"] = True
        for key in ("mistake", "outcome"):  # only when set: older readers and files stay as they were
            if getattr(self, key):
                doc[key] = getattr(self, key)
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> "CheckResult":
        return cls(doc["name"], doc["points"], doc["max_points"], doc["status"], doc.get("message", ""),
                   bool(doc.get("hidden", False)), str(doc.get("mistake", "") or ""), str(doc.get("outcome", "") or ""))


@dataclass
class ExerciseResult:
    exercise: str
    device: str
    seconds: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    # The one note on the submission itself, shown beside the grade: why nothing could be
    # graded (no file, not a notebook, ...), or how a graded file was read (Submission.notes).
    problem: str = ""
    seed: int | None = None  # the base seed the checks drew their inputs from (grader/secret.py)

    @property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_points for c in self.checks), 6)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status == PASSED for c in self.checks)

    def to_json(self) -> dict:
        doc = {
            "exercise": self.exercise,
            "score": self.score,
            "max_score": self.max_score,
            "device": self.device,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_json() for c in self.checks],
        }
        if self.problem:
            doc["problem"] = self.problem
        if self.seed is not None:
            doc["seed"] = self.seed
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> "ExerciseResult":
        checks = [CheckResult.from_json(c) for c in doc.get("checks", [])]
        seed = doc.get("seed")
        return cls(doc["exercise"], doc.get("device", "cpu"), doc.get("seconds", 0.0), checks, doc.get("problem", ""),
                   None if seed is None else int(seed))


def as_dicts(results: list[ExerciseResult]) -> list[dict]:
    return [r.to_json() for r in results]


__all__ = ["CheckResult", "ExerciseResult", "PASSED", "FAILED", "ERROR", "as_dicts", "OUTCOMES", "WRONG", "NOT_IMPLEMENTED",
           "RAISED", "TIMED_OUT", "NOT_SUBMITTED", "FORBIDDEN", "SKIPPED", "GRADER_ERROR"]
