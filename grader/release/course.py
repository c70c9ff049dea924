"""What every step of a release shares: where the course is, the default seed, the kit's marker, the error."""

from __future__ import annotations

from pathlib import Path

# grader/release/course.py -> the course repository
COURSE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SEED = 0
KIT_MARKER = "# A student kit written by `grade release`"


class ReleaseError(Exception):
    """The kit cannot be built (bad arguments, unfinished exercise, course not present)."""
