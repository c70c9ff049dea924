"""Verifying a kit: grade it in its own venv and compare every check with live grading.

The stubs and solutions are graded through the installed ``grade`` script, the other passes
in one driver process (:data:`_DRIVER`, run with ``python -c``); each check's verdict,
points and message must match the live grading recorded by :mod:`grader.release.record`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from grader.release.course import DEFAULT_SEED, ReleaseError
from grader.release.environment import check_isolation, kit_env, make_kit_venv
from grader.release.report import KitReport, PassCheck


def compare_results(label: str, live: dict, kit_docs: list[dict]) -> PassCheck:
    """Check by check: the same names, verdicts, points and messages."""
    check = PassCheck(label)
    kit = {d["exercise"]: d for d in kit_docs}
    for name, result in live.items():
        doc = kit.get(name)
        if doc is None:
            check.mismatches.append(f"{label}: {name} was not graded in the kit")
            continue
        check.scores[name] = (doc["score"], doc["max_score"])
        want = [c.to_json() for c in result.checks]
        got = doc["checks"]
        if [c["name"] for c in want] != [c["name"] for c in got]:
            check.mismatches.append(f"{label}: {name}: the kit ran checks {[c['name'] for c in got]}, live {[c['name'] for c in want]}")
            continue
        for w, g in zip(want, got):
            check.checks += 1
            for key in ("status", "points", "max_points", "message"):
                if w.get(key) != g.get(key):
                    check.mismatches.append(
                        f"{label}: {name}::{w['name']}: {key} is {g.get(key)!r} in the kit, {w.get(key)!r} live"
                    )
                    break
    return check


_DRIVER = """
import json, sys
from pathlib import Path
from grader.api import grade_exercises
from grader.runner import GradeOptions
jobs = json.load(sys.stdin)
out = []
for job in jobs:
    options = GradeOptions(device=job["device"], seed=job["seed"])
    sub = Path(job["submission"]) if job["submission"] else None
    out.append([r.to_json() for r in grade_exercises(job["exercises"], sub, options)])
print("\\n" + json.dumps(out))
"""


def verify_in_venv(kit_dir: Path, venv_dir: Path, passes, device: str, report: KitReport, say) -> None:
    python = make_kit_venv(kit_dir, venv_dir, say)
    env = kit_env(venv_dir)
    scratch = Path(tempfile.mkdtemp(prefix="kit-run-"))
    try:
        report.verified.append(check_isolation(python, kit_dir, env, scratch))
        grade = str(venv_dir / "bin" / "grade")
        runs: list[tuple[list, subprocess.Popen, str | None]] = []  # (passes, process, stdin)
        rest = []
        for p, live in passes:
            if p.seed == DEFAULT_SEED and p.label in ("the stubs", "the solutions"):
                # The commands a student types, through the installed `grade` script.
                cmd = [grade, "all", "--json", "--device", device]
                if p.submission_dir is not None:
                    cmd += ["--submission", str(p.submission_dir)]
                say(f"verifying: grade {' '.join(cmd[1:])} (in the kit's venv)")
                runs.append(([(p, live)], _start(cmd, scratch, env), None))
            else:
                rest.append((p, live))
        if rest:
            # One process for the remaining passes: one torch import instead of many.
            say(f"verifying: {len(rest)} more passes (known mistakes, other seeds) in the kit's venv")
            jobs = [{"exercises": [s.name for s in p.specs], "seed": p.seed, "device": device,
                     "submission": str(p.submission_dir) if p.submission_dir else None} for p, _ in rest]  # fmt: skip
            runs.append((rest, _start([str(python), "-c", _DRIVER], scratch, env), json.dumps(jobs)))
        # The runs are independent: they go on side by side, and are read in turn.
        for group, proc, stdin in runs:
            try:
                out, err = proc.communicate(stdin, timeout=1200)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise ReleaseError(f"grading {group[0][0].label} in the kit took more than 20 minutes") from None
            if proc.returncode not in (0, 1):
                tail = " | ".join(err.strip().splitlines()[-3:])
                raise ReleaseError(f"grading {group[0][0].label} in the kit failed (exit {proc.returncode}): {tail}")
            docs = json.loads(out.strip().splitlines()[-1]) if stdin else [json.loads(out)]
            for (p, live), kit_docs in zip(group, docs):
                label = p.label + (f" (seed {p.seed})" if p.seed != DEFAULT_SEED else "")
                report.passes.append(compare_results(label, live, kit_docs))
    finally:
        for _, proc, _ in locals().get("runs", []):
            if proc.poll() is None:
                proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def _start(cmd: list[str], cwd: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=env)  # fmt: skip
