"""A synthetic class of softmax submissions, written into a folder by code.

``make_class(folder)`` writes one entry per student in every layout ``grade batch``
accepts (single file, flat and nested folders, flat and LMS-nested zips, Canvas export
names, notebooks) and every kind of trouble (known mistakes, stubs, syntax errors,
sys.exit, os._exit, endless loops, memory bombs, output floods, importing the solutions,
killing the zygote, unreadable zips, zip bombs, path traversal, a non-JSON notebook) and
returns what each student must get. ``make_benchmark_class(folder, n)`` writes ``n``
students mixed from a few of these (mostly correct or wrong, some hostile).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

CORRECT = '''
import torch


def softmax(x, dim=-1):
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)
'''

# Correct, and prints 2 MB a call: printing never fails a check (grader/output.py).
CHATTY = '''
import torch


def softmax(x, dim=-1):
    print("debugging " * 200_000)
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)
'''

LOGSUMEXP = '''
import torch


def softmax(x, dim=-1):
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))
'''

WRONG_DIM = '''
def softmax(x, dim=-1):
    other = 0 if (dim % max(x.dim(), 1)) != 0 else -1
    shifted = x - x.amax(dim=other, keepdim=True)
    return shifted.exp() / shifted.exp().sum(dim=other, keepdim=True)
'''

NO_MAX = '''
def softmax(x, dim=-1):
    return x.exp() / x.exp().sum(dim=dim, keepdim=True)
'''

GLOBAL = '''
def softmax(x, dim=-1):
    shifted = x - x.max()
    return shifted.exp() / shifted.exp().sum()
'''

IN_PLACE = '''
def softmax(x, dim=-1):
    if x.requires_grad:  # autograd refuses in-place changes of a leaf
        e = (x - x.amax(dim=dim, keepdim=True)).exp()
        return e / e.sum(dim=dim, keepdim=True)
    x.sub_(x.amax(dim=dim, keepdim=True))
    x.exp_()
    return x / x.sum(dim=dim, keepdim=True)
'''

DETACHED = '''
import torch


def softmax(x, dim=-1):
    with torch.no_grad():
        e = (x - x.amax(dim=dim, keepdim=True)).exp()
        return e / e.sum(dim=dim, keepdim=True)
'''

STUB = '''
def softmax(x, dim=-1):
    raise NotImplementedError("write softmax here")
'''

SYNTAX_ERROR = '''
def softmax(x, dim=-1)
    return x
'''

EXIT_AT_IMPORT = '''
import sys
sys.exit(0)
'''

OS_EXIT_IN_CALL = '''
import os


def softmax(x, dim=-1):
    os._exit(0)
'''

ENDLESS_LOOP = '''
def softmax(x, dim=-1):
    while True:
        pass
'''

LOOP_AT_IMPORT = '''
while True:
    pass
'''

MEMORY_BOMB = '''
import torch


def softmax(x, dim=-1):
    hog = torch.ones(50 * 1024**3 // 4)  # 50 GB
    return hog[: x.numel()].reshape(x.shape)
'''

OUTPUT_FLOOD = '''
def softmax(x, dim=-1):
    while True:
        print("spam " * 1000)
'''

IMPORT_SOLUTIONS = '''
from solutions.softmax import softmax  # noqa: F401
'''

KILL_ZYGOTE = '''
import os
import signal


def softmax(x, dim=-1):
    if x.dim() == 1:
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(3)
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
'''

# Checks whose verdicts these submissions decide (base names, without parameters).
VALUES = "test_values_match_reference"
LARGE = "test_large_inputs_stay_finite"
INPUT = "test_input_not_modified"
GRADIENTS = "test_gradients_match_reference"


@dataclass(frozen=True)
class Expected:
    """What one student must get."""

    status: str = "graded"  # graded | error
    full: bool = False  # every check passes
    zero: bool = False  # every check fails
    fails: frozenset = field(default_factory=frozenset)  # these fail, every other check passes
    text: str = ""  # appears in the messages, the exercise's problem or the error


FULL = Expected(full=True)


def notebook(source: str) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Softmax"), nbformat.v4.new_code_cell(source)]
    return nbformat.writes(nb)


def _zip(path: Path, members: dict[str, bytes | str]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def make_class(root: Path) -> dict[str, Expected]:
    """Write the class into ``root`` (created); return the expected result per student id."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expected] = {}

    def file(name: str, text: str) -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    # -- correct, in every layout
    file("alice.py", CORRECT)
    expected["alice"] = FULL
    file("bob/softmax.py", LOGSUMEXP)
    file("bob/notes.txt", "my notes")
    expected["bob"] = FULL
    file("carol/softmax/softmax.py", CORRECT)
    expected["carol"] = FULL
    _zip(root / "dave.zip", {"softmax.py": CORRECT})
    expected["dave"] = FULL
    _zip(root / "erin.zip", {"erin/softmax.py": CORRECT, "__MACOSX/erin/._softmax.py": b"\x00\x05junk"})
    expected["erin"] = FULL
    _zip(root / "frank.zip", {"submissions/frank_12345_678_softmax.py": CORRECT})
    expected["frank"] = FULL
    file("smithjane_4242_99001_softmax-1.py", LOGSUMEXP)  # a Canvas export, lying flat
    expected["4242"] = FULL
    file("gina.ipynb", notebook(CORRECT))
    expected["gina"] = FULL

    # -- wrong: lose exactly the points of the checks they fail
    file("walt.py", WRONG_DIM)
    expected["walt"] = Expected(zero=True, text="softmax taken over the wrong dimension")
    file("nora/softmax.py", NO_MAX)
    expected["nora"] = Expected(fails=frozenset({LARGE}), text="no max subtraction")
    _zip(root / "glen.zip", {"glen/softmax/softmax.py": GLOBAL})
    expected["glen"] = Expected(zero=True, text="normalised over the whole tensor")
    file("ines.py", IN_PLACE)
    expected["ines"] = Expected(fails=frozenset({INPUT}), text="modified it in place")
    file("dora.py", DETACHED)
    expected["dora"] = Expected(fails=frozenset({GRADIENTS}), text="does not require grad")
    file("stan.py", STUB)
    expected["stan"] = Expected(zero=True, text="not implemented yet")
    file("syd.py", SYNTAX_ERROR)
    expected["syd"] = Expected(zero=True, text="SyntaxError")

    # -- hostile: earn nothing, and change nobody else's grade
    file("exiter.py", EXIT_AT_IMPORT)
    expected["exiter"] = Expected(zero=True, text="sys.exit")
    file("quitter.py", OS_EXIT_IN_CALL)
    expected["quitter"] = Expected(zero=True, text="ended the worker process")
    file("looper.py", ENDLESS_LOOP)
    expected["looper"] = Expected(zero=True, text="did not return")
    file("bomber.py", MEMORY_BOMB)
    expected["bomber"] = Expected(zero=True, text="allocate")
    file("flooder.py", OUTPUT_FLOOD)
    expected["flooder"] = Expected(zero=True, text="did not return")  # printing is no failure: its loop is
    file("sneak.py", IMPORT_SOLUTIONS)
    expected["sneak"] = Expected(zero=True, text="No module named 'solutions'")
    file("killer.py", KILL_ZYGOTE)
    expected["killer"] = Expected(fails=frozenset({VALUES}), text="ended the worker process")

    # -- unreadable: an error result for that student, the batch goes on
    (root / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip file")
    expected["broken"] = Expected(status="error", text="not a readable zip file")
    _zip(root / "escaper.zip", {"../../escaped.py": CORRECT, "softmax.py": CORRECT})
    expected["escaper"] = Expected(status="error", text="unsafe path")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("softmax.py", CORRECT)
        z.writestr("data.bin", b"\0" * (80 * 1024**2))  # 80 MB of zeros, 80 kB zipped
    (root / "bomb.zip").write_bytes(buf.getvalue())
    expected["bomb"] = Expected(status="error", text="zip bomb")
    file("hank.ipynb", "{ this is not json")
    expected["hank"] = Expected(zero=True, text="not valid JSON")
    (root / "empty").mkdir()
    expected["empty"] = Expected(zero=True, text="no softmax.py")
    file("ivan.txt", "not a submission")
    expected["ivan"] = Expected(status="error", text="a submission is a folder")
    file("twice.py", CORRECT)
    file("twice/softmax.py", CORRECT)
    expected["twice"] = Expected(status="error", text="several submissions")
    return expected


def make_benchmark_class(root: Path, n: int) -> dict[str, str]:
    """``n`` students: 60% correct (one of them chatty), 25% wrong, 10% hostile (cheap kinds). id -> kind."""
    root.mkdir(parents=True, exist_ok=True)
    mix = [("correct", CORRECT)] * 6 + [("logsumexp", LOGSUMEXP)] * 2 + [("wrong_dim", WRONG_DIM), ("no_max", NO_MAX),
           ("global", GLOBAL), ("detached", DETACHED), ("stub", STUB)] + [("exit", EXIT_AT_IMPORT), ("os_exit", OS_EXIT_IN_CALL),
           ("chatty", CHATTY)]  # fmt: skip
    kinds = {}
    for i in range(n):
        kind, source = mix[i % len(mix)]
        sid = f"s{i:04d}"
        if i % 3 == 0:
            _zip(root / f"{sid}.zip", {f"{sid}/softmax.py": source})
        else:
            (root / f"{sid}.py").write_text(source)
        kinds[sid] = kind
    return kinds


def dump(expected: dict[str, Expected]) -> str:
    return json.dumps({k: v.__dict__ | {"fails": sorted(v.fails)} for k, v in expected.items()}, indent=1)


def forger_source(journal: Path, victim: Path) -> str:
    """A submission that tries to forge a journal line and break another student's file,
    then answers correctly. Workers cannot see RESULTS or SUBMISSIONS, so both attempts
    land nowhere (where the kernel grants mount namespaces)."""
    return f"""
import json

FORGED = json.dumps({{"id": "forged", "status": "graded", "exercises": []}}) + "\\n"
for path, mode, text in (({str(journal)!r}, "a", FORGED),
                         ({str(victim)!r}, "w", "def softmax(x, dim=-1):\\n    return x\\n")):
    try:
        with open(path, mode) as f:
            f.write(text)
    except OSError:
        pass
""" + CORRECT


def make_course_class(root: Path, n: int, specs) -> dict[str, str]:
    """``n`` students, each a folder holding every exercise's module (``specs``): a third
    complete (the reference solutions), a third halfway (softmax and attention done, the
    rest still the handout stubs), a third hostile in two modules. id -> kind."""
    root.mkdir(parents=True, exist_ok=True)
    kinds = {}
    for i in range(n):
        kind = ("complete", "halfway", "hostile")[i % 3]
        folder = root / f"c{i:04d}"
        folder.mkdir()
        for j, spec in enumerate(specs):
            source = Path(spec.solution).read_text()
            if kind == "halfway" and j >= 2:
                source = Path(spec.stub).read_text()
            if kind == "hostile" and spec.module == "softmax":
                source = OUTPUT_FLOOD
            if kind == "hostile" and spec.module == "attention":
                source = EXIT_AT_IMPORT
            (folder / f"{spec.module}.py").write_text(source)
        kinds[folder.name] = kind
    return kinds


def make_pair_class(root: Path, n: int, specs) -> dict[str, str]:
    """``n`` students each submitting a folder with softmax and attention, mixed as a real
    class of 20 is: 12 correct, 5 with a bug (known mistakes from tests/submissions), 3
    whose code raises or exits. ``specs``: the softmax and attention ExerciseSpecs. id -> kind."""
    by_module = {spec.module: spec for spec in specs}
    solution = {m: Path(s.solution).read_text() for m, s in by_module.items()}
    from submissions.attention.variants import variant_text

    bugs = [("wrong_dim", {"softmax": WRONG_DIM}), ("no_max", {"softmax": NO_MAX}),
            ("no_scaling", {"attention": variant_text("no_scaling.py")}),
            ("inverted_mask", {"attention": variant_text("inverted_mask.py")}),
            ("qkv_swapped", {"attention": variant_text("qkv_swapped.py")})]  # fmt: skip
    raising = [("exit", {"attention": EXIT_AT_IMPORT}), ("os_exit", {"softmax": OS_EXIT_IN_CALL}),
               ("stub", {"softmax": STUB})]  # fmt: skip
    mix = [("correct", {})] * 12 + bugs + raising
    root.mkdir(parents=True, exist_ok=True)
    kinds = {}
    for i in range(n):
        kind, changed = mix[i % len(mix)]
        folder = root / f"p{i:04d}"
        folder.mkdir()
        for module in by_module:
            (folder / f"{module}.py").write_text(changed.get(module, solution[module]))
        kinds[folder.name] = kind
    return kinds
