"""The vocabulary both sides of the worker boundary share, and nothing else.

The trusted side (runner, live, remote, replay) and the worker import these from here,
never from each other: what a worker is told (:class:`WorkerConfig`, sent as JSON through
the zygote) and the names of the roots requests address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.jail import JailPolicy
from grader.sandbox import BEST_EFFORT, Limits

# Requests address the loaded module as ROOT_MODULE, a known mistake as MISTAKE_PREFIX + name.
ROOT_MODULE = "module"
MISTAKE_PREFIX = "mistake:"


@dataclass
class WorkerConfig:
    """Everything a worker needs to know; sent as JSON from the grader via the zygote."""

    role: str  # "student" or "reference"
    main: str  # the module name the exercise is about, e.g. "softmax"
    files: dict[str, str]  # module name -> file; siblings are importable by name
    log_path: str
    limits: Limits = field(default_factory=Limits)
    device: str = "cpu"
    mistakes_file: str | None = None
    block_packages: list[str] = field(default_factory=lambda: ["solutions"])
    # The student's jail: what it shows, and whether the worker may run without it.
    jail: JailPolicy = field(default_factory=JailPolicy)
    isolation: str = BEST_EFFORT
    # Dotted names the exercise forbids (ExerciseSpec.forbidden): a student worker records
    # each call of one from a submitted file (grader.rules.RuntimeGuard) and reports it.
    forbidden: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        doc = dict(self.__dict__)
        doc["limits"] = self.limits.to_json()
        doc["jail"] = self.jail.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> "WorkerConfig":
        doc = dict(doc)
        doc["limits"] = Limits.from_json(doc.get("limits", {}))
        doc["jail"] = JailPolicy.from_json(doc.get("jail", {}))
        return cls(**doc)


__all__ = ["MISTAKE_PREFIX", "ROOT_MODULE", "WorkerConfig"]
