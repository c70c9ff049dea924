"""Grading seeds no student kit has seen: one home for which seed grading uses.

A student kit replays the reference's replies recorded by ``grade release`` for seed 0
(and any ``--seed N`` it was built with). Had instructor grading used those seeds too, a
submission could embed the kit's recording and answer every recorded input without
implementing anything. So where the solutions are installed, grading draws its inputs
from seeds derived from a **grading secret** that only the instructor's install holds:

- ``GRADER_SECRET`` (environment), when set and non-empty: for several machines or CI
  that must grade with the same seeds;
- else ``.grading_secret`` beside the solutions (``solutions/.grading_secret``), made
  with :mod:`secrets` on first use. It lives with the solutions because that is exactly
  what a kit never copies and what student workers never see (the sandbox hides the
  solution folders); it is in ``.gitignore``, so every clone makes its own.

Seeds split in two ranges, so a secret-derived seed is never one a kit recorded:
``0 <= seed < KIT_SEEDS`` may be recorded by ``grade release``; derived seeds lie in
``[KIT_SEEDS, 2**31)``. The ``seed`` fixture maps a base seed to per-check seeds
modulo ``2**31`` with an odd multiplier, so distinct bases below ``2**31`` never give a
check the same inputs.

Which seed is used (one rule, :func:`default_seed` and :func:`student_seed`):

- an explicit ``--seed N``: N (reproducible, e.g. to compare with a kit built for N);
- ``grade batch``: per batch, ``HMAC-SHA256(secret, "batch:" + nonce)``, the nonce drawn
  once per RESULTS folder (see :func:`batch_seeds`);
- ``grade exercise`` / ``grade all`` / ``check-solutions`` where every graded exercise
  has its solution installed: ``HMAC-SHA256(secret, "exercise")``;
- a student kit (no solutions): 0, the seed its recording was made for.

Every result stores the seed it was graded with, so a score can be reproduced with
``--seed``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path
from typing import Iterable

from grader.spec import ExerciseSpec

SECRET_ENV = "GRADER_SECRET"
SECRET_FILE = ".grading_secret"
KIT_SEEDS = 2**20  # seeds a kit may record: [0, KIT_SEEDS); derived seeds are above
SEED_LIMIT = 2**31  # the seed fixture works modulo this


class SecretUnavailable(RuntimeError):
    """The grading secret can be neither read nor created: one line saying what to do."""


def recordable(seed: int) -> bool:
    """Whether ``grade release`` may record ``seed`` (never one grading may derive)."""
    return 0 <= seed < KIT_SEEDS


def solutions_installed(specs: Iterable[ExerciseSpec]) -> bool:
    """Every exercise in ``specs`` has its solution here (an instructor's install, not a kit)."""
    specs = list(specs)
    return bool(specs) and all(spec.has_solution for spec in specs)


def secret_path(specs: Iterable[ExerciseSpec]) -> Path:
    """Where the secret file lives: beside the first installed solution of ``specs``."""
    for spec in specs:
        if spec.has_solution:
            return Path(spec.solution).resolve().parent / SECRET_FILE
    raise SecretUnavailable("no solutions are installed here, so there is no grading secret (a student kit?)")


def _read(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretUnavailable(f"cannot read the grading secret {path}: {exc}; set {SECRET_ENV} instead") from None
    return text.encode() if text else None


def _create(path: Path) -> bytes:
    """Write a fresh secret to ``path`` atomically; if another process won the race, read theirs."""
    value = secrets.token_hex(32)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".grading_secret-", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (value + "\n").encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never two secrets
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise SecretUnavailable(
            f"cannot create the grading secret {path} ({exc.strerror or exc}); "
            f"make {path.parent} writable or set {SECRET_ENV}"
        ) from None
    found = _read(path)
    if found is None:
        raise SecretUnavailable(f"the grading secret {path} is empty; delete it or set {SECRET_ENV}")
    return found


def grading_secret(specs: Iterable[ExerciseSpec]) -> bytes:
    """The install's secret: ``GRADER_SECRET``, else the file beside the solutions (made on first use)."""
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        return env.encode()
    path = secret_path(specs)
    return _read(path) or _create(path)


def derive_seed(secret: bytes, label: str) -> int:
    """A seed in ``[KIT_SEEDS, SEED_LIMIT)`` from the secret and what is graded (HMAC-SHA256)."""
    digest = hmac.new(secret, label.encode(), hashlib.sha256).digest()
    return KIT_SEEDS + int.from_bytes(digest[:8], "big") % (SEED_LIMIT - KIT_SEEDS)


def default_seed(specs: list[ExerciseSpec]) -> int:
    """The seed ``grade exercise``/``all``/``check-solutions`` use when no ``--seed`` is given."""
    if not solutions_installed(specs):
        return 0  # a student kit: the seed its recording was made for
    return derive_seed(grading_secret(specs), "exercise")


def batch_seeds(specs: list[ExerciseSpec], nonce: str) -> int:
    """The seed ``grade batch`` grades every submission of one batch with.

    One seed for the whole class, so every student is asked the same questions and the
    reference's replies are computed once per batch (grader.refcache); ``nonce`` is drawn
    per RESULTS folder (kept there for ``--resume``), so a new batch asks new questions and
    expected values a student read in one batch's feedback are worth nothing in the next.
    The secret is read here: a missing one stops the batch before anything is graded.
    """
    if not solutions_installed(specs):
        return 0  # a batch in a student kit can only replay what was recorded
    return derive_seed(grading_secret(specs), f"batch:{nonce}")


__all__ = [
    "KIT_SEEDS",
    "SECRET_ENV",
    "SECRET_FILE",
    "SecretUnavailable",
    "batch_seeds",
    "default_seed",
    "derive_seed",
    "grading_secret",
    "recordable",
    "solutions_installed",
]
