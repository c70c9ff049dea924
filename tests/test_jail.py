"""The jail, layer by layer: each test forks, enters a jail as a student worker would, tries
something a hostile submission would, and reports what happened.

These tests fail (they do not skip) where the machine cannot build the jail: isolation
that is silently missing is exactly what they exist to catch. Set
GRADER_ALLOW_NO_ISOLATION=1 to skip them on a machine known to lack it (macOS, WSL).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pytest

from grader import jail

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def isolation_available():
    reason = jail.probe()
    if reason is not None:
        if os.environ.get("GRADER_ALLOW_NO_ISOLATION") == "1":
            pytest.skip(f"no isolation on this machine ({reason}), allowed by GRADER_ALLOW_NO_ISOLATION")
        pytest.fail(f"student workers cannot be isolated on this machine: {reason}")


def in_jail(attempt, read_only: tuple[str, ...] = (), timeout: float = 30.0, keeper: list | None = None):
    """Run ``attempt()`` in a freshly jailed child; return what it returned (JSON) or raise."""
    root = tempfile.mkdtemp(prefix="jail-test-")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            try:
                jail.enter(jail.JailPolicy(read_only=read_only), root)
                doc = {"ok": attempt()}
            except BaseException as exc:  # noqa: BLE001
                doc = {"error": "".join(traceback.format_exception(exc))}
            os.write(write, json.dumps(doc).encode())
        finally:
            os._exit(0)
    os.close(write)
    if keeper is not None:
        keeper.append(pid)
    deadline = time.monotonic() + timeout
    chunks = []
    os.set_blocking(read, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(read, 1 << 16)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    timed_out = time.monotonic() >= deadline
    if timed_out:
        os.kill(pid, 9)  # the keeper; the worker dies with it (PDEATHSIG)
    os.waitpid(pid, 0)
    os.rmdir(root)
    assert not timed_out, f"the jailed attempt did not finish within {timeout:g} s"
    doc = json.loads(b"".join(chunks))
    if "error" in doc:
        raise AssertionError(doc["error"])
    return doc["ok"]


def _errno_of(call) -> int:
    try:
        call()
    except OSError as exc:
        return exc.errno
    return 0


def _libc_errno(name: str, *args) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return 0 if getattr(libc, name)(*args) == 0 else ctypes.get_errno()


def test_the_worker_is_pid_1_and_sees_no_other_process():
    def attempt():
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        return {"pid": os.getpid(), "pids": pids}

    seen = in_jail(attempt)
    assert seen["pid"] == 1
    assert seen["pids"] == [1], "the grader's processes are visible from the jail"


def test_no_privileges_remain():
    def attempt():
        status = dict(line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":\t" in line)
        return {k: status[k].strip() for k in ("Uid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp")}

    status = in_jail(attempt)
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    if os.geteuid() == 0:
        assert int(status["Uid"].split()[0]) >= jail.WORKER_UID_BASE, "a root grader's worker must not be root"


def test_the_filesystem_is_a_minimal_read_only_view():
    data = ROOT / "data"

    def attempt():
        return {
            "solutions": os.path.exists(ROOT / "solutions"),
            "checks": os.path.exists(ROOT / "exercises" / "softmax" / "test_softmax.py"),
            "tests": os.path.exists(ROOT / "tests"),
            "checkout": sorted(os.listdir(ROOT)),
            "data": os.path.isdir(data),
            "write_data": _errno_of(lambda: open(data / "x", "w")),
            "write_usr": _errno_of(lambda: open("/usr/x", "w")),
            "write_grader": _errno_of(lambda: open(Path(jail.__file__).with_name("x.py"), "w")),
            "tmp": _errno_of(lambda: Path("/tmp/mine").write_text("scratch")),
        }

    seen = in_jail(attempt, read_only=(str(data),))
    assert not seen["solutions"] and not seen["checks"] and not seen["tests"]
    assert seen["checkout"] == ["data", "grader"], seen["checkout"]
    assert seen["data"]
    assert seen["write_data"] == seen["write_usr"] == seen["write_grader"] == errno.EROFS
    assert seen["tmp"] == 0  # the private scratch is writable


def test_scratch_is_size_capped():
    def attempt():
        chunk = b"x" * (1 << 20)
        written = 0
        try:
            with open("/tmp/fill", "wb") as f:
                for _ in range(200):
                    f.write(chunk)
                    f.flush()
                    written += 1
        except OSError as exc:
            return {"written_mib": written, "errno": exc.errno}
        return {"written_mib": written, "errno": 0}

    seen = in_jail(attempt)
    assert seen["errno"] in (errno.ENOSPC, errno.EFBIG), seen
    assert seen["written_mib"] <= jail.JailPolicy().scratch_bytes // (1 << 20)


def test_unmount_setns_unshare_ptrace_and_pidfd_are_refused():
    def attempt():
        libc = ctypes.CDLL(None, use_errno=True)
        out = {
            "umount": _libc_errno("umount2", b"/usr", 2),
            "mount": _libc_errno("mount", b"tmpfs", b"/tmp", b"tmpfs", 0, None),
            "unshare": _libc_errno("unshare", 0x10000000 | 0x00020000),
            "ptrace": _libc_errno("ptrace", 16, 1, 0, 0),  # PTRACE_ATTACH
            "pidfd_open": 0 if libc.syscall(434, 1, 0) >= 0 else ctypes.get_errno(),
            "setsid": _errno_of(os.setsid),
            "chroot": _libc_errno("chroot", b"/tmp"),
        }
        fd = os.open("/proc/self/ns/mnt", os.O_RDONLY)
        out["setns"] = _libc_errno("setns", fd, 0)
        return out

    seen = in_jail(attempt)
    assert all(code == errno.EPERM for code in seen.values()), seen


def test_memory_the_address_space_cap_does_not_count_is_refused():
    def attempt():
        libc = ctypes.CDLL(None, use_errno=True)
        return {
            "memfd_create": _errno_of(lambda: os.memfd_create("hoard")),
            "shmget": 0 if libc.shmget(0, 1 << 20, 0o1600) >= 0 else ctypes.get_errno(),  # IPC_PRIVATE, IPC_CREAT
            "semget": 0 if libc.semget(0, 32000, 0o1600) >= 0 else ctypes.get_errno(),
            "msgget": 0 if libc.msgget(0, 0o1600) >= 0 else ctypes.get_errno(),
        }

    seen = in_jail(attempt)
    assert all(code == errno.EPERM for code in seen.values()), seen


def test_no_network_and_no_host_unix_socket():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="jail-sock-")
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "agent.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    unix.listen(1)
    os.chmod(path, 0o777)

    def attempt():
        out = {}
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            out["tcp"] = "connected"
        except OSError as exc:
            out["tcp"] = exc.errno
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            out["unix"] = "connected"
        except OSError as exc:
            out["unix"] = exc.errno
        return out

    try:
        seen = in_jail(attempt)
        listener.settimeout(0.2)
        with pytest.raises(socket.timeout):
            listener.accept()  # a real listener that nobody reached
    finally:
        listener.close()
        unix.close()
        os.unlink(path)
        os.rmdir(folder)
    assert seen["tcp"] != "connected" and seen["unix"] != "connected", seen


def test_nothing_outlives_the_worker():
    marker = Path(tempfile.mkdtemp(prefix="jail-daemon-"))
    os.chmod(marker, 0o777)

    def attempt():
        if os.fork() == 0:
            if os.fork() == 0:  # a daemon: double fork (setsid is refused)
                time.sleep(1.5)
                try:
                    (marker / "alive").write_text("still here")
                finally:
                    os._exit(0)
            os._exit(0)
        time.sleep(0.1)
        return {"forked": True}

    keeper = []
    assert in_jail(attempt, read_only=(str(marker),), keeper=keeper)["forked"]
    time.sleep(2.0)
    own_ns = os.readlink("/proc/self/ns/pid")
    survivors = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            uid, ns = os.stat(f"/proc/{pid}").st_uid, os.readlink(f"/proc/{pid}/ns/pid")
        except OSError:
            continue
        if os.geteuid() == 0:
            mine = uid == jail.WORKER_UID_BASE + keeper[0]  # a root grader's worker: a uid of its own
        else:
            mine = uid == os.geteuid() and ns != own_ns
        if mine:
            survivors.append(pid)
    assert not survivors, f"processes of a finished worker still run: {survivors}"
    assert not (marker / "alive").exists()
    marker.rmdir()


def test_process_count_is_capped():
    def attempt():
        children = []
        try:
            for _ in range(200):
                pid = os.fork()
                if pid == 0:
                    time.sleep(5)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            return {"forks": len(children), "errno": exc.errno}
        return {"forks": len(children), "errno": 0}

    seen = in_jail(attempt)
    assert seen["errno"] == errno.EAGAIN and seen["forks"] < jail.JailPolicy().processes, seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_probe_reports_a_refused_namespace():
    """Under a filter that refuses unshare (a locked-down container), the probe says why."""
    import subprocess

    script = (
        "import errno, pyseccomp as s\n"
        "f = s.SyscallFilter(s.ALLOW); f.add_rule(s.ERRNO(errno.EPERM), 'unshare'); f.load()\n"
        "from grader import jail; print(jail.probe())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "unshare" in out.stdout and "Operation not permitted" in out.stdout, out.stdout + out.stderr


def test_links_in_a_folder_anyone_writes_to_show_nothing_to_the_jail(tmp_path, monkeypatch):
    # A slot used to run with /tmp first on sys.path: a link any local user dropped in /tmp
    # made the jail show the folder it points into (on the machine this was found on, /work:
    # a whole checkout, solutions included).
    from grader.jail import JailPolicy, _visible_paths

    secret = tmp_path / "instructor" / "course"
    secret.mkdir(parents=True)
    public = tmp_path / "public"  # like /tmp: anyone writes, links from anyone
    public.mkdir()
    public.chmod(0o1777)
    (public / "bait").symlink_to(secret)
    private = tmp_path / "private"  # an import folder of ours, outside Python's prefixes
    private.mkdir()
    (private / "also").symlink_to(secret)
    monkeypatch.setattr(sys, "path", [str(public), str(private), *sys.path])
    shown = _visible_paths(JailPolicy())
    assert not [p for p in shown if p in (str(secret.parent), str(secret)) or p == str(public)], shown
    assert str(private) in shown  # the folder itself is an import folder; links in it are not followed


def test_a_slot_runs_in_a_private_folder_not_in_tmp():
    from grader.batch.slot import SlotProcess

    class Where(SlotProcess):
        command = (sys.executable, "-m", "json.tool")  # waits on stdin; we only look at its cwd

    slot = Where()
    try:
        cwd = os.readlink(f"/proc/{slot.proc.pid}/cwd")
        assert cwd != tempfile.gettempdir() and os.path.basename(cwd).startswith("grader-slot-cwd-")
        assert os.stat(cwd).st_mode & 0o777 == 0o700 and not os.listdir(cwd)
    finally:
        slot.kill()
    assert not os.path.exists(cwd)
