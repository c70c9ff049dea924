"""The hostile suite: a real ``grade batch`` with every attack of tests/submissions/hostile_batch
beside three honest students, as root and as an unprivileged user (issue 8), and a machine
without namespaces, where the batch must refuse rather than grade without isolation.

One batch holds all the attackers together (the realistic case: they run concurrently with
the honest students and with each other). It must exit 0 with a complete grades.csv; the
honest totals must equal a batch without attackers; no attacker may score more than the
stub; nothing the batch started may outlive it (this process is made a child subreaper,
so every orphan of the batch becomes our child and is seen); RESULTS holds only what the
grader writes; the TCP and unix listeners started here see no connection; the check files,
solutions, grader package and SUBMISSIONS are byte-identical afterwards; no proof file an
escaped attacker would leave (``hbx-*``) appears on the host; no attacker's feedback shows
what it could only have learned from outside its jail.

An attacker's own feedback carries a log of each attempt and its outcome (see the
submissions' ``_note``): when an assertion fails, that log is the evidence.
"""

from __future__ import annotations

import csv
import ctypes
import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import submission_file

REPO = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "submissions" / "hostile_batch"
ATTACK = "# ---- the attack ----"  # where an attack file's own code starts
GRADE = str(Path(sys.executable).with_name("grade"))
USER = "grader-test"
MARK = "hbx"
ARGS = ["--exercises", "softmax,attention", "--workers", "2", "--json", "--no-progress",
        "--call-timeout", "5", "--timeout", "60"]  # fmt: skip
HONEST = ("honest_correct", "honest_buggy", "honest_stub")
# Student ids (file names) that are spreadsheet formulas: each is graded as formula_cells.py.
FORMULA_IDS = ("=1+2", "+SUM(1;2)", "@cmd")
# What the grader writes in RESULTS (besides its lock), and in each student's folder.
RESULT_FILES = {".lock", "grades.csv", "journal.jsonl", "junit.xml", "report.html", "students", "logs", "batch-nonce"}
STUDENT_FILES = {"result.json", "feedback.txt", "results.json"}
SECRET = "hostile-suite-" + "5" * 32  # the grading secret of every batch here (same seeds per id)
PR_SET_CHILD_SUBREAPER = 36


def _attackers() -> dict[str, Path]:
    """Student id -> attack file: every attack, and the formula ids (``_shared.py`` is no attack)."""
    out = {p.stem: p for p in sorted(HOSTILE.glob("*.py")) if not p.name.startswith("_")}
    for sid in FORMULA_IDS:
        out[sid] = HOSTILE / "formula_cells.py"
    return out


def _submission(attack: Path) -> str:
    """One whole submission: the attack's docstring, the harness every attack shares
    (``_shared.py``: logging, evidence, profit, stub answers), then the attack itself."""
    text = attack.read_text()
    cut = text.index(ATTACK)
    shared = (HOSTILE / "_shared.py").read_text()
    shared = shared[shared.index('"""', 3) + 3 :].lstrip("\n")  # without its own docstring
    return text[:cut] + shared + text[cut:]


def _make_subs(folder: Path, attackers: bool) -> list[str]:
    """SUBMISSIONS with the honest three (and the attackers); returns every student id."""
    folder.mkdir(parents=True)
    ex = REPO / "exercises"
    honest = {
        "honest_correct": (REPO / "solutions/softmax.py", REPO / "solutions/attention.py"),
        "honest_buggy": (Path(__file__).parent / "submissions/softmax/no_max.py",
                         submission_file("attention", "no_scaling.py")),
        "honest_stub": (ex / "softmax/softmax.py", ex / "attention/attention.py"),
    }  # fmt: skip
    for sid, (soft, att) in honest.items():
        (folder / sid).mkdir()
        shutil.copyfile(soft, folder / sid / "softmax.py")
        shutil.copyfile(att, folder / sid / "attention.py")
    ids = list(honest)
    if attackers:
        for sid, path in _attackers().items():
            (folder / f"{sid}.py").write_text(_submission(path))
            ids.append(sid)
        # Links to the solutions: never followed (discover refuses links).
        (folder / "symlinker").mkdir()
        for name in ("softmax.py", "attention.py"):
            os.symlink(REPO / "solutions" / name, folder / "symlinker" / name)
        ids.append("symlinker")
    return ids


# --------------------------------------------------------------------------- running as whom


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        return pwd.getpwnam(USER)


def _user_can_read_the_install(user: str) -> str | None:
    probe = subprocess.run(["runuser", "-u", user, "--", sys.executable, "-c", "import torch, grader, solutions"],
                           capture_output=True, text=True, cwd="/")  # fmt: skip
    return None if probe.returncode == 0 else probe.stderr.strip()[-300:]


def _command(mode: str, args: list[str], home: Path) -> list[str]:
    env = [f"GRADER_SECRET={SECRET}", f"HOME={home}", f"PATH={Path(sys.executable).parent}:/usr/bin:/bin",
           f"MPLCONFIGDIR={home}"]  # fmt: skip
    if mode == "user" and os.geteuid() == 0:
        return ["runuser", "-u", USER, "--", "env", "-i", *env, GRADE, "batch", *args]
    return ["env", "-i", *env, GRADE, "batch", *args]


def _run(mode: str, args: list[str], home: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(_command(mode, args, home), capture_output=True, text=True, cwd=home, timeout=timeout)


def _workdir(tmp_path_factory, mode: str, name: str) -> Path:
    base = tmp_path_factory.mktemp(f"{name}-{mode}")
    if mode == "user" and os.geteuid() == 0:
        user = _ensure_user()
        for folder in [base, *base.parents]:  # the user must reach (not list) its folder
            if str(folder) in ("/", "/tmp"):
                break
            os.chmod(folder, os.stat(folder).st_mode | 0o711)
        os.chown(base, user.pw_uid, user.pw_gid)
    return base


def _chown_tree(root: Path, mode: str) -> None:
    if mode == "user" and os.geteuid() == 0:
        user = pwd.getpwnam(USER)
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(folder, name), user.pw_uid, user.pw_gid)
        os.chown(root, user.pw_uid, user.pw_gid)


@pytest.fixture(scope="module", autouse=True)
def _install_reachable_by_others():
    """As root, let the test user reach (not list) the interpreter, the venv and the checkout:
    a fresh machine's /root and CI's mktemp'd venv folder are 0700. Undone afterwards."""
    changed: list[tuple[str, int]] = []
    if os.geteuid() == 0:
        import site

        targets = {os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parents[1])}
        targets |= {os.path.realpath(p) for p in site.getsitepackages()}
        for target in targets:
            for folder in [Path(target), *Path(target).parents]:
                if not folder.is_dir():
                    continue
                mode = folder.stat().st_mode
                if not mode & 0o001 and all(str(folder) != done for done, _ in changed):
                    changed.append((str(folder), mode))
                    os.chmod(folder, mode | 0o001)
    yield
    for folder, mode in reversed(changed):
        os.chmod(folder, mode)


def _skip_mode(mode: str) -> None:
    if mode == "root" and os.geteuid() != 0:
        pytest.skip("the root run needs root")
    if mode == "user" and os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            if not shutil.which("useradd"):
                pytest.skip("no useradd to create an unprivileged user")
        _ensure_user()
        problem = _user_can_read_the_install(USER)
        if problem:
            pytest.fail(f"{USER} cannot read the venv or the checkout: {problem}")


# --------------------------------------------------------------------------- listeners


class Listeners:
    """A TCP listener on 127.0.0.1, a filesystem unix socket in /tmp (a fixed name and a random
    one) and an abstract unix socket, in this (the grader's) namespaces; records every connection."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self.socks: list[socket.socket] = []
        self.paths = [Path("/tmp/hbx-listener.sock"), Path(f"/tmp/hostile-{secrets.token_hex(4)}.sock")]
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        self.port = tcp.getsockname()[1]
        self.socks.append(tcp)
        for path in self.paths:
            path.unlink(missing_ok=True)
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(path))
            os.chmod(path, 0o777)
            self.socks.append(s)
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind(b"\0hbx-listener")
            self.socks.append(s)
        except OSError:
            pass
        self._stop = False
        for s in self.socks:
            s.listen(64)
            s.settimeout(0.2)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s: socket.socket) -> None:
        while not self._stop:
            try:
                conn, peer = s.accept()
            except (socket.timeout, OSError):
                continue
            try:
                conn.settimeout(0.5)
                data = conn.recv(200)
            except OSError:
                data = b""
            self.connections.append(f"{s.getsockname()!r} from {peer!r}: {data!r}")
            conn.close()

    def close(self) -> None:
        self._stop = True
        time.sleep(0.3)
        for s in self.socks:
            s.close()
        for path in self.paths:
            path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- evidence


def _digest_tree(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    out[path] = hashlib.sha256(f.read()).hexdigest()
            for name in dirs:
                out[os.path.join(folder, name)] = "dir"
    return out


def _planted_files() -> list[str]:
    """hbx* files where an attacker that got out would leave them (never in a jail's own /tmp)."""
    import site

    places = ["/tmp", "/var/tmp", "/dev/shm", str(REPO), *site.getsitepackages(), os.path.dirname(os.__file__)]
    found = []
    for place in places:
        found += glob.glob(os.path.join(place, f"{MARK}*"))
        found += glob.glob(os.path.join(place, "*", f"{MARK}*"))
    found += glob.glob(str(REPO / "**" / f"{MARK}*"), recursive=True)
    found += glob.glob(str(REPO / "**" / "sitecustomize.py"), recursive=True)
    return sorted(set(found) - {"/tmp/hbx-listener.sock"})


def _children() -> list[int]:
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            pids += [int(p) for p in Path(f"/proc/self/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return pids


def _describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        status = Path(f"/proc/{pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        state = next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))
        return f"pid {pid} uid {uid} state {state}: {cmd[:150]}"
    except (OSError, StopIteration):
        return f"pid {pid} (gone)"


def _survivors(before: set[int]) -> list[str]:
    """Processes the batch left behind: orphans re-parented to us (a subreaper) that were
    not our children before it (this session's own zygote, say), and any process named
    like an attacker's daemon anywhere on the machine."""
    for pid in set(_children()) - before:  # reap what has already ended (never our own)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    out = [_describe(p) for p in _children() if p not in before and " state Z" not in _describe(p)]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(MARK):
                out.append(f"{comm}: {_describe(int(entry))}")
    return sorted(set(out))


def _kill_survivors(before: set[int]) -> None:
    for pid in set(_children()) - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().startswith(MARK):
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
    time.sleep(0.2)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


def _grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_id = {}
    for row in rows:
        sid = row["student"]
        if sid.startswith("'") and sid[1:2] in ("=", "+", "-", "@", "\t", "\r"):
            sid = sid[1:]  # neutralized (OWASP): the id it stands for
        assert sid not in by_id, f"two rows for {sid}"
        by_id[sid] = row
    return by_id


def _total(row: dict) -> float:
    return float(row["total"] or 0)


def _attacker_log(out: Path, sid: str) -> str:
    """The attempts an attacker logged, from the messages in its own result."""
    folder = out / "students" / sid
    try:
        docs = json.loads((folder / "result.json").read_text())
    except (OSError, ValueError):
        return "(no result.json)"
    messages = [c.get("message", "") for d in docs for c in d.get("checks", [])] + [d.get("problem", "") for d in docs]
    longest = max(messages, key=len, default="")
    return longest[:2500]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, float]:
    """Honest totals from a batch without attackers (run as whoever runs the tests)."""
    mode = "root" if os.geteuid() == 0 else "user"
    work = tmp_path_factory.mktemp("baseline")
    ids = _make_subs(work / "subs", attackers=False)
    done = _run(mode, [str(work / "subs"), "--out", str(work / "results"), *ARGS], work)
    assert done.returncode == 0, done.stderr[-3000:]
    grades = _grades(work / "results")
    assert sorted(grades) == sorted(ids)
    totals = {sid: _total(row) for sid, row in grades.items()}
    assert totals["honest_correct"] > totals["honest_buggy"] > totals["honest_stub"], totals
    return totals


@pytest.fixture
def subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    before = set(_children())  # ours already (this session's zygote): never the batch's
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield before
    finally:
        _kill_survivors(before)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


# --------------------------------------------------------------------------- the suite


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["root", "user"])
def test_hostile_batch_changes_no_grade_and_leaves_nothing_behind(mode, baseline, tmp_path_factory, subreaper):
    _skip_mode(mode)
    work = _workdir(tmp_path_factory, mode, "hostile")
    token = secrets.token_hex(6)  # names of SUBS and RESULTS no attacker could guess
    subs, out = work / f"subs-{token}", work / f"results-{token}"
    ids = _make_subs(subs, attackers=True)
    _chown_tree(work, mode)
    args = [str(subs), "--out", str(out), *ARGS]

    if mode == "user" and os.geteuid() == 0:
        refused = subprocess.run(["runuser", "-u", USER, "--", sys.executable, "-c",
                                  "from grader.jail import probe; print(probe() or '')"],
                                 capture_output=True, text=True, cwd=work)  # fmt: skip
        reason = refused.stdout.strip()
    else:
        from grader.jail import probe

        reason = probe() or ""
    if reason:
        # This kernel gives this user no namespaces: the batch must refuse, in one line.
        done = _run(mode, args, work)
        assert done.returncode == 2, done.stderr[-2000:]
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "--no-sandbox" in lines[0], done.stderr
        assert not (out / "grades.csv").exists()
        return

    watched = [REPO / "exercises", REPO / "solutions", REPO / "grader"]
    before = _digest_tree(*watched)
    subs_before = _digest_tree(subs)
    for stale in _planted_files():
        pytest.fail(f"a proof file exists before the batch: {stale}")
    listeners = Listeners()
    start = time.monotonic()
    try:
        done = _run(mode, args, work)
        seconds = time.monotonic() - start
        time.sleep(4)  # daemons that survived would write their files now
        survivors = _survivors(subreaper)
    finally:
        listeners.close()
    print(f"\nhostile batch as {mode}: {seconds:.1f} s, {len(ids)} students")

    problems: list[str] = []
    if done.returncode != 0:
        problems.append(f"grade batch exited {done.returncode}: {done.stderr[-1500:]}")
    grades = _grades(out)
    if sorted(grades) != sorted(ids):
        problems.append(f"grades.csv rows {sorted(grades)} != students {sorted(ids)}")
    for sid in HONEST:
        if sid in grades and _total(grades[sid]) != baseline[sid]:
            problems.append(f"honest {sid}: {_total(grades[sid])} with attackers, {baseline[sid]} without")
    stub = baseline["honest_stub"]
    for sid in set(grades) - set(HONEST):
        if _total(grades[sid]) > stub:
            problems.append(f"attacker {sid} scored {_total(grades[sid])} > the stub's {stub}: {_attacker_log(out, sid)}")
    for row in grades.values():
        for cell in row.values():
            if cell and cell[0] in "=+@\t\r" or (cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit()):
                problems.append(f"formula cell in grades.csv: {cell!r}")

    # Nothing outlived the batch.
    if survivors:
        problems.append(f"processes outlived the batch: {survivors}")
    # RESULTS: only the grader's files; the journal parses, one line per student.
    extra = {p.name for p in out.iterdir()} - RESULT_FILES
    if extra:
        problems.append(f"RESULTS holds files the grader did not write: {sorted(extra)}")
    for folder in (out / "students").iterdir():
        if {p.name for p in folder.iterdir()} != STUDENT_FILES:
            problems.append(f"students/{folder.name} holds {sorted(p.name for p in folder.iterdir())}")
    seen = []
    for line in (out / "journal.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            seen.append(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"journal line that is not a result: {line[:200]!r}")
    if sorted(seen) != sorted(ids):
        problems.append(f"journal ids {sorted(seen)} != students {sorted(ids)}")
    planted = glob.glob(str(out / "**" / f"{MARK}*"), recursive=True)
    if planted:
        problems.append(f"files planted in RESULTS: {planted}")
    # No connection reached the host's listeners.
    if listeners.connections:
        problems.append(f"listeners were reached: {listeners.connections}")
    # Checks, solutions, the grader and SUBMISSIONS unchanged; no proof of an escape.
    after = _digest_tree(*watched)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        problems.append(f"files of the install changed: {changed}")
    subs_after = _digest_tree(subs)
    if subs_after != subs_before:
        problems.append(f"SUBMISSIONS changed: {sorted(set(subs_after) ^ set(subs_before))[:10]}")
    planted = _planted_files()
    if planted:
        problems.append(f"proof files of an escape: {planted}")
    # No attacker learned what lies outside its jail (it would show in its own feedback).
    for sid in set(grades) - set(HONEST):
        folder = out / "students" / sid
        text = "".join(p.read_text(errors="replace") for p in folder.iterdir()) if folder.is_dir() else ""
        for secret in ("honest_", token, SECRET, "TOOK", "SECRET"):
            if secret in text:
                problems.append(f"{sid}'s feedback shows {secret!r}: {_attacker_log(out, sid)[:600]}")
    if problems:
        logs = "\n".join(f"--- {sid}: {_attacker_log(out, sid)[:1200]}" for sid in sorted(set(grades) - set(HONEST)))
        pytest.fail("\n".join(problems) + "\n\nattackers' logs:\n" + logs)


# --------------------------------------------------------------------------- no silent downgrade

DENY_UNSHARE = """
import errno, os, sys
import pyseccomp as seccomp
f = seccomp.SyscallFilter(seccomp.ALLOW)
f.add_rule(seccomp.ERRNO(errno.EPERM), "unshare")
f.load()
os.execvp(sys.argv[1], sys.argv[1:])
"""


@pytest.mark.slow
def test_a_machine_without_namespaces_refuses_to_grade_unless_told(tmp_path):
    """unshare denied (as a container's default seccomp profile does): the batch stops in one
    line naming --no-sandbox; with --no-sandbox it grades, each result marked as such."""
    _make_subs(tmp_path / "subs", attackers=False)
    wrapped = ["env", f"GRADER_SECRET={SECRET}", sys.executable, "-c", DENY_UNSHARE, GRADE, "batch",
               str(tmp_path / "subs"), *ARGS]  # fmt: skip
    refused = subprocess.run([*wrapped, "--out", str(tmp_path / "refused")], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, refused.stderr
    assert "--no-sandbox" in lines[0] and "unshare" in lines[0], lines[0]
    assert not (tmp_path / "refused" / "grades.csv").exists()

    graded = subprocess.run([*wrapped, "--out", str(tmp_path / "graded"), "--no-sandbox"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    assert graded.returncode == 0, graded.stderr[-3000:]
    grades = _grades(tmp_path / "graded")
    assert sorted(grades) == sorted(HONEST)
    assert all("without isolation" in row["status"] for row in grades.values()), grades
