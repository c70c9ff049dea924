"""``grade similarity`` on a synthetic class: seconds, peak memory, and whether the planted
copies come out on top.

    python benchmarks/similarity_benchmark.py [--students 500] [--copies 3] [--seed 0] [--keep DIR]

Each student gets, per exercise, one of the real solutions (the reference and the
corpus's correct attempts in tests/submissions/corpus) with their own variable names,
comments and blank lines, plus a few helper functions of their own drawn from a pool of
statements (students' files are never only the assignment). Per exercise, ``--copies``
students hand in a disguised copy of a classmate's file: every assigned name renamed
again, comments replaced, blank lines and a docstring added, two statements swapped.
The report must rank each planted copy among that exercise's top pairs.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.registry import load_registry  # noqa: E402
from grader.similarity.report import similarity_report, write_report  # noqa: E402

WORDS = ["val", "tmp", "res", "out", "acc", "buf", "cur", "item", "part", "data", "vec", "mat", "xs", "ys",
         "score", "norm", "scale", "step", "chunk", "piece", "total", "base", "head", "body", "row", "col"]  # fmt: skip
KEEP = {"self", "torch", "nn", "math", "F", "x", "super", "True", "False", "None"}
STATEMENTS = [
    "if {t}.dim() < {n}:\n        raise ValueError('expected at least {n} dims, got ' + str({t}.dim()))",
    "assert {t}.shape[{i}] > 0, 'empty dimension {i}'",
    "{v} = {t}.reshape(-1, {t}.shape[-1])",
    "{v} = torch.isfinite({t}).all()",
    "{v} = {t}.float().mean(dim={i})",
    "{v} = {t}.new_zeros({n}, {m})",
    "for {j} in range({n}):\n        {v} = {t}[..., {j}].sum()",
    "{v} = {t}.detach().abs().max().item() > {n}e{m}",
    "if {t}.dtype == torch.float16:\n        {t} = {t}.float()",
    "{v} = list({t}.shape)[:{n}]",
    "{v} = {t}.numel() // max(1, {t}.shape[0])",
    "{v} = torch.cat([{t}, {t}.flip(-1)], dim=-1)[..., :{n}]",
    "while {v} > {n}:\n        {v} = {v} // 2",
    "{v} = {{'shape': tuple({t}.shape), 'dtype': str({t}.dtype), 'n': {n}}}",
    "{v} = sorted(range({n}), key=lambda {j}: -{j})",
    "{v} = ({t} > {n}).sum().item()",
    "try:\n        {v} = {t}.contiguous().view(-1)\n    except RuntimeError:\n        {v} = {t}.reshape(-1)",
    "{v} = {t}.std(dim=-1, unbiased=False) if {t}.shape[-1] > {m} else None",
    "{v} = [{t}[{j}] for {j} in range(min({n}, {t}.shape[0]))]",
    "{v} = torch.linspace(0, {n}, {m}).to({t}.dtype)",
]


def bases(registry) -> dict[str, list[str]]:
    out = {}
    for spec in registry.ordered():
        texts = [spec.solution.read_text()] if spec.has_solution else []
        texts += [p.read_text() for p in sorted((ROOT / "tests/submissions/corpus" / spec.name / "correct").glob("*.py"))]
        out[spec.name] = texts
    return out


def rename(source: str, rng: random.Random) -> str:
    """Rename every name the code assigns (a student's own choice of names)."""
    names = {m for m in re.findall(r"^\s*([A-Za-z_]\w*)\s*=[^=]", source, re.M) if m not in KEEP}
    for name in sorted(names):
        new = f"{rng.choice(WORDS)}_{rng.randrange(100)}"
        source = re.sub(rf"(?<![\w.]){re.escape(name)}\b", new, source)
    return source


def helpers(rng: random.Random, student: int) -> str:
    blocks = []
    for h in range(rng.randint(2, 4)):
        body = "\n    ".join(_statement(rng) for _ in range(rng.randint(3, 6)))
        blocks.append(f"\n\ndef _helper_{student}_{h}(t):\n    {body}\n    return t\n")
    return "".join(blocks)


def _statement(rng: random.Random) -> str:
    return rng.choice(STATEMENTS).format(t="t", v=rng.choice(WORDS), j=rng.choice("ijk"), n=rng.randint(1, 9),
                                         m=rng.randint(1, 9), i=rng.randint(0, 3))  # fmt: skip


def student_file(base: str, rng: random.Random, student: int) -> str:
    """A base solution made this student's: own names and comments, and own lines between
    its lines (checks, debugging, intermediate values), as no two students write alike."""
    text = rename(base, rng)
    lines = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        opens_block = line.lstrip().startswith(("else", "elif", "except", "finally", ")", "]", "}"))
        if indent and line.strip() and not opens_block and rng.random() < 0.25:
            lines.append(indent + _statement(rng).replace("\n    ", "\n" + indent))
        lines.append(line)
        if line.strip() and rng.random() < 0.08:
            lines.append(indent + f"# {rng.choice(WORDS)} step {rng.randrange(9)}")
    return "\n".join(lines) + helpers(rng, student)


def disguise(source: str, rng: random.Random) -> str:
    text = rename(source, rng)
    text = re.sub(r"#[^\n]*", lambda m: f"# {rng.choice(WORDS)}", text)
    lines = text.splitlines()
    # Swap two neighbouring simple assignments at the same indentation, once.
    for i in rng.sample(range(len(lines) - 1), len(lines) - 1):
        a, b = lines[i], lines[i + 1]
        if re.match(r"^\s+\w+ = ", a) and re.match(r"^\s+\w+ = ", b) and len(a) - len(a.lstrip()) == len(b) - len(b.lstrip()):
            assigned = a.split("=")[0].strip()
            if assigned not in b:
                lines[i], lines[i + 1] = b, a
                break
    out = ['"""My own work."""']
    for line in lines:
        out.append(line)
        if not line.strip():
            out.append("")
    return "\n".join(out) + "\n"


def make_class(root: Path, students: int, copies: int, seed: int) -> set[tuple[str, str, str]]:
    rng = random.Random(seed)
    registry = load_registry()
    sources = bases(registry)
    ids = [f"s{n:04d}" for n in range(students)]
    files: dict[str, dict[str, str]] = {sid: {} for sid in ids}
    for n, sid in enumerate(ids):
        for exercise, texts in sources.items():
            files[sid][exercise] = student_file(rng.choice(texts), rng, n)
    planted = set()
    for exercise in sources:
        pool = rng.sample(ids, 2 * copies)
        for original, copier in zip(pool[::2], pool[1::2]):
            files[copier][exercise] = disguise(files[original][exercise], rng)
            planted.add((exercise, *sorted((original, copier))))
    for sid, by_exercise in files.items():
        folder = root / sid
        folder.mkdir(parents=True)
        for exercise, text in by_exercise.items():
            (folder / f"{registry.get(exercise).module}.py").write_text(text)
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--copies", type=int, default=3, help="planted copies per exercise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the class and the report here and keep them")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="similarity-bench-"))
    try:
        planted = make_class(work / "submissions", args.students, args.copies, args.seed)
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        report = similarity_report(work / "submissions")
        analysed = time.perf_counter()
        write_report(report, work / "R")
        done = time.perf_counter()
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        files = sum(len(c.documents) for c in report.comparisons)
        print(f"{args.students} students, {files} files, {len(report.comparisons)} exercises")
        print(f"compare: {analysed - start:.2f} s (discover, unpack, read, fingerprint, pair); "
              f"write csv+html: {done - analysed:.2f} s; total {done - start:.2f} s")  # fmt: skip
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"peak RSS {peak_rss / 1024:.0f} MB (before the report: {base_rss / 1024:.0f} MB; largest "
              f"fingerprinting process {children / 1024:.0f} MB); "
              f"{len(report.pairs())} pairs listed; notes {len(report.notes)}")  # fmt: skip
        found = 0
        for c in report.comparisons:
            mine = {p for p in planted if p[0] == c.exercise}
            top = {(p.exercise, *sorted((p.student_a, p.student_b))) for p in c.pairs[: len(mine)]}
            hits = len(mine & top)
            found += hits
            best_other = next((p.similarity for p in c.pairs if (p.exercise, *sorted((p.student_a, p.student_b))) not in mine), 0.0)
            lowest_copy = min((p.similarity for p in c.pairs if (p.exercise, *sorted((p.student_a, p.student_b))) in mine), default=0.0)
            print(f"  {c.exercise:20s} {len(c.pairs):6d} pairs; planted copies in the top {len(mine)}: {hits}/{len(mine)} "
                  f"(lowest copy {100 * lowest_copy:.0f}%, best other pair {100 * best_other:.0f}%)")  # fmt: skip
        print(f"planted copies at the top: {found}/{len(planted)}")
        if found != len(planted):
            sys.exit(1)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
