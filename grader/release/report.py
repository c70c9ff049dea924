"""What a release did, as dataclasses: :class:`KitReport` for the whole kit, :class:`PassCheck` per grading pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PassCheck:
    """One grading pass compared between live grading and the kit."""

    label: str  # "the stubs", "the solutions", "known mistake 'no max subtraction...'"
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # exercise -> (score, max) in the kit
    checks: int = 0  # checks compared
    mismatches: list[str] = field(default_factory=list)


@dataclass
class KitReport:
    """What :func:`build_kit` wrote and verified."""

    kit_dir: Path
    exercises: list[str]
    seeds: list[int]
    files: int = 0
    notebooks: list[Path] = field(default_factory=list)
    recorded_calls: dict[str, int] = field(default_factory=dict)
    recording_bytes: int = 0
    stripped_hidden: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # exercises whose solution fails or stub scores, live
    passes: list[PassCheck] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # one line per thing verified
    problems: list[str] = field(default_factory=list)
    verify: bool = True
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        calls = sum(self.recorded_calls.values())
        out = [
            f"kit: {self.kit_dir} ({self.files} files; exercises {', '.join(self.exercises)})",
            f"recorded reference: {calls} replies ({self.recording_bytes / 1024:.0f} KiB) for --seed "
            f"{', '.join(map(str, self.seeds))}",
        ]
        if self.stripped_hidden:
            out.append(f"hidden checks cut from visible check files: {', '.join(self.stripped_hidden)}")
        out += [f"verified: {line}" for line in self.verified]
        if not self.verify:
            out.append("not verified in a fresh environment (--no-verify)")
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append(f"{'kit ready' if self.ok else 'kit FAILED verification'} ({self.seconds:.0f} s)")
        return out
