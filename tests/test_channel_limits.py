"""The trusted side's limits on a worker's replies: a deadline for the whole reply, a size cap.

A fake worker (one end of a socketpair, fed by a thread) stands in for a forked one, so
these run in a second and import no torch beyond the grader's own modules.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from grader import wire
from grader.errors import StudentError
from grader.live import STUDENT_REPLY_BYTES, LiveTransport, reply_cap
from grader.sandbox import Limits
from grader.boundary import WorkerConfig

GB3 = 3 * 10**9


def _frame(doc: dict, blob: bytes = b"") -> bytes:
    payload = json.dumps(doc).encode()
    return wire.HEADER.pack(wire.MAGIC, len(payload), len(blob)) + payload + blob


def _trickle(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    for i in range(len(data)):
        if stop.wait(every):
            return
        try:
            sock.sendall(data[i : i + 1])
        except OSError:
            return


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    stop = threading.Event()
    yield a, b, stop
    stop.set()
    a.close()
    b.close()


def _start(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


# ----------------------------------------------------------------------------- wire


def test_a_trickled_frame_times_out_at_the_deadline_not_per_byte(pair):
    a, b, stop = pair
    _start(_trickle, a, _frame({"ok": "x" * 50}), 0.3, stop)
    start = time.monotonic()
    with pytest.raises(wire.FrameTimeout):
        wire.recv_frame(b, deadline=start + 1.0)
    took = time.monotonic() - start
    assert 0.9 <= took < 1.5, took


def test_a_prompt_frame_arrives_within_its_deadline(pair):
    a, b, _ = pair
    a.sendall(_frame({"ok": 1}, b"blob"))
    assert wire.recv_frame(b, max_bytes=1024, deadline=time.monotonic() + 1.0) == ({"ok": 1}, b"blob")


def test_a_header_announcing_3_gb_is_refused_without_allocating(pair):
    a, b, _ = pair
    a.sendall(wire.MAGIC + struct.pack("!II", 1000, GB3 - 1000))
    tracemalloc.start()
    try:
        with pytest.raises(wire.FrameTooLarge) as refused:
            wire.recv_frame(b, max_bytes=512 * 2**20, deadline=time.monotonic() + 1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.size == GB3 and refused.value.limit == 512 * 2**20
    assert peak < 1 << 20, peak


def test_a_frame_just_over_the_cap_is_refused_and_one_at_it_is_read(pair):
    a, b, _ = pair
    body = _frame({"ok": 1}, b"x" * 100)
    cap = len(body) - wire.HEADER.size
    a.sendall(body + body)
    assert wire.recv_frame(b, max_bytes=cap)[1] == b"x" * 100
    with pytest.raises(wire.FrameTooLarge):
        wire.recv_frame(b, max_bytes=cap - 1)


def test_a_slow_reader_times_out_sending_at_the_deadline(pair):
    a, _, _ = pair
    start = time.monotonic()
    with pytest.raises(wire.FrameTimeout):
        wire.send_frame(a, {"x": 1}, b"y" * (64 << 20), deadline=start + 0.5)
    assert time.monotonic() - start < 1.5


# ----------------------------------------------------------------------------- live


class FakeZygote:
    """spawn() hands out one end of a socketpair; a thread plays the worker on the other.

    The "worker" pid is a real process (``sleep``) in its own session, so the grader's
    kill_worker has something to kill, and the test can see that it did.
    """

    def __init__(self, worker):
        self.worker = worker
        self.procs: list[subprocess.Popen] = []
        self.stop = threading.Event()

    def spawn(self, config_json: dict):
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.procs.append(proc)
        _start(self.worker, theirs, self.stop)
        return ours, proc.pid

    def status(self, pid: int):
        from grader.zygote import ExitStatus

        return ExitStatus(False, None, 9)

    def close(self) -> None:
        self.stop.set()
        for proc in self.procs:
            proc.kill()
            proc.wait()


def _transport(worker, call_seconds: float = 1.0, exercise_seconds: float = 100.0, max_reply_bytes=None):
    zygote = FakeZygote(worker)
    limits = Limits(call_seconds=call_seconds, exercise_seconds=exercise_seconds)
    config = WorkerConfig("student", "softmax", {}, "/nonexistent.log", limits)
    return zygote, LiveTransport(zygote, config, "your softmax.py", max_reply_bytes=max_reply_bytes)


def _hello_then(reply: bytes, every: float = 0.0):
    """A worker that says hello, reads one request, then sends ``reply`` (trickled if ``every``)."""

    def worker(sock: socket.socket, stop: threading.Event) -> None:
        sock.sendall(_frame({"started": True}) + _frame({"ready": True, "mistakes": []}))
        try:
            wire.recv_frame(sock)
        except (wire.ChannelClosed, OSError):
            return
        if every:
            _trickle(sock, reply, every, stop)
        else:
            try:
                sock.sendall(reply)
            except OSError:
                pass

    return worker


def test_a_reply_trickled_a_byte_every_0_3_s_fails_the_call_after_its_1_s(request):
    zygote, transport = _transport(_hello_then(_frame({"ok": "x" * 100}), every=0.3))
    request.addfinalizer(zygote.close)
    start = time.monotonic()
    with pytest.raises(StudentError, match="took longer than 1 s") as failed:
        transport.roundtrip("k", {"op": "call"}, b"")
    took = time.monotonic() - start
    assert 0.9 <= took < 1.6, took
    assert failed.value.type_name == "Timeout"
    assert zygote.procs[0].wait(timeout=5) == -9  # the worker was killed


def test_a_trickled_reply_is_held_to_the_exercise_budget_too(request):
    zygote, transport = _transport(_hello_then(_frame({"ok": "x" * 100}), every=0.3), call_seconds=10, exercise_seconds=0.8)
    request.addfinalizer(zygote.close)
    start = time.monotonic()
    with pytest.raises(StudentError, match="time budget ran out"):
        transport.roundtrip("k", {"op": "call"}, b"")
    assert time.monotonic() - start < 1.4
    with pytest.raises(StudentError, match="out of time"):
        transport.roundtrip("k", {"op": "call"}, b"")


def test_a_reply_over_the_cap_is_the_students_failure_and_never_read(request):
    header = wire.MAGIC + struct.pack("!II", 100, GB3 - 100)
    zygote, transport = _transport(_hello_then(header + b"{" * 100), max_reply_bytes=512 * 2**20)
    request.addfinalizer(zygote.close)
    tracemalloc.start()
    try:
        with pytest.raises(StudentError) as failed:
            transport.roundtrip("k", {"op": "call"}, b"")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(failed.value)
    assert "your softmax.py sent a reply of 2,861 MiB" in message and "over the 512 MiB limit" in message
    assert failed.value.type_name == "ReplyTooLarge"
    assert peak < 4 << 20, peak
    assert zygote.procs[0].wait(timeout=5) == -9


def test_a_student_reply_under_the_cap_is_read():
    import torch
    from safetensors.torch import save

    blob = save({"t0": torch.zeros(250)})
    zygote, transport = _transport(_hello_then(_frame({"ok": 7}, blob)))
    try:
        assert transport.roundtrip("k", {"op": "call"}, b"") == ({"ok": 7}, blob)
    finally:
        transport.close()
        zygote.close()


def test_the_default_caps():
    # Without --checkpoint a student's reply is capped well below a memory bomb; the tiny
    # checkpoint's state_dict (the largest honest reply on the course's own data) fits.
    tiny = sum(p.stat().st_size for p in (ROOT / "data" / "tiny-gpt2").glob("*.safetensors"))
    assert 4 * tiny < STUDENT_REPLY_BYTES <= 256 * 2**20
    # A real GPT-2 124M state_dict (~670 MiB: lm_head crosses again, plus masks) fits --checkpoint's cap.
    assert reply_cap({"checkpoint": "/nonexistent"}) == STUDENT_REPLY_BYTES
    ref = LiveTransport(None, WorkerConfig("reference", "softmax", {}, "/x.log"), "the reference softmax")
    assert ref.max_reply_bytes == wire.MAX_FRAME_BYTES


def test_a_larger_checkpoint_raises_the_cap(tmp_path):
    assert reply_cap({}) == STUDENT_REPLY_BYTES
    weights = tmp_path / "model.safetensors"
    with open(weights, "wb") as f:
        f.truncate(600 * 2**20)  # sparse: no disk used
    assert reply_cap({"checkpoint": str(tmp_path)}) == 1200 * 2**20 + 256 * 2**20
    with open(weights, "wb") as f:
        f.truncate(1500 * 2**20)  # GPT-2 medium: never past what a frame can hold
    assert reply_cap({"checkpoint": str(tmp_path)}) == wire.MAX_FRAME_BYTES


def test_only_the_worker_itself_can_say_the_jail_was_refused(monkeypatch, tmp_path):
    # Refused before any submitted code ran: the grader's failure (retried), never the student's.
    import grader.jail
    from grader.errors import RemoteError, StudentError
    from grader.sandbox import REQUIRED
    from grader.zygote import Zygote

    def refuse(*args, **kwargs):
        raise grader.jail.JailUnavailable("the kernel said no")

    monkeypatch.setattr(grader.jail, "enter", refuse)
    module = tmp_path / "softmax.py"
    module.write_text("def softmax(x, dim=-1):\n    return x\n")
    zygote = Zygote(fork=True)  # forked from this process: the refusing jail with it
    try:
        zygote.wait_ready()
        config = WorkerConfig("student", "softmax", {"softmax": str(module)}, str(tmp_path / "log"), Limits(),
                              isolation=REQUIRED)  # fmt: skip
        transport = LiveTransport(zygote, config, "your softmax.py")
        with pytest.raises(RemoteError) as caught:
            transport.roundtrip("k", {"op": "call", "target": {"root": "module", "path": ["softmax"]}}, b"")
        assert not isinstance(caught.value, StudentError)
        assert "the grader could not isolate your softmax.py: the kernel said no" in str(caught.value)
    finally:
        zygote.close()


def _hello(hello: bytes):
    """A worker whose hello is ``hello`` (written by the submission at import, say)."""

    def worker(sock: socket.socket, stop: threading.Event) -> None:
        sock.sendall(_frame({"started": True}) + hello)
        stop.wait(30)

    return worker


def test_a_hello_the_grader_cannot_parse_fails_the_student_and_its_worker_is_killed(request):
    # Python refuses to read an int of more than 4,300 digits (ValueError, not JSONDecodeError):
    # the worker was never handed back, so nothing would ever have killed it.
    hello = b'{"ready": true, "x": ' + b"1" * 5000 + b"}"
    zygote, transport = _transport(_hello(wire.HEADER.pack(wire.MAGIC, len(hello), 0) + hello))
    request.addfinalizer(zygote.close)
    with pytest.raises(StudentError, match="corrupted the grader's channel while being imported"):
        transport.roundtrip("k", {"op": "call"}, b"")
    assert zygote.procs[0].wait(timeout=5) == -9


def test_a_frame_whose_json_python_cannot_hold_is_a_protocol_error(pair):
    a, b, _ = pair
    body = b'{"x": ' + b"9" * 5000 + b"}"
    a.sendall(wire.HEADER.pack(wire.MAGIC, len(body), 0) + body)
    with pytest.raises(wire.ProtocolError):
        wire.recv_frame(b, deadline=time.monotonic() + 1.0)


@pytest.mark.parametrize(
    "reply, what",
    [
        # Parsing and decoding cost far more than the bytes (64 MiB of these: 3 GB, 45 s).
        (_frame({"ok": [{}] * 30_000}), "30,002 objects and lists of JSON, over the limit of 20,000"),
        (_frame({"ok": "x" * (2 << 20)}), "bytes of JSON, over the limit of 1,048,576 bytes"),
    ],
)
def test_a_student_reply_with_more_json_than_any_answer_is_refused_unparsed(request, reply, what):
    zygote, transport = _transport(_hello_then(reply))
    request.addfinalizer(zygote.close)
    with pytest.raises(StudentError) as failed:
        transport.roundtrip("k", {"op": "call"}, b"")
    assert what in str(failed.value) and "where a tensor belongs" in str(failed.value)
    assert failed.value.type_name == "ReplyTooLarge"
    assert zygote.procs[0].wait(timeout=5) == -9


def test_the_student_json_limits_hold_every_honest_reply():
    # The course's largest honest reply (gpt2_loading's state_dict, ner_head's token lists)
    # had 24 kB of JSON and 43 objects and lists.
    from grader.live import STUDENT_JSON

    assert STUDENT_JSON.max_bytes >= 40 * 24_000 and STUDENT_JSON.max_containers >= 400 * 43


def test_a_student_reply_whose_tensor_header_lists_more_tensors_than_any_answer_is_refused(request):
    # safetensors' own header is JSON with an object per tensor, each of which becomes a
    # tensor when the blob is read: 1.5 million empty ones took the grader 6 minutes.
    header = json.dumps({f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(30_000)}).encode()
    blob = struct.pack("<Q", len(header)) + header
    zygote, transport = _transport(_hello_then(_frame({"ok": None}, blob)))
    request.addfinalizer(zygote.close)
    with pytest.raises(StudentError, match="sent a reply with a tensor header of 1,968,890 bytes, over the limit") as failed:
        transport.roundtrip("k", {"op": "call"}, b"")
    assert failed.value.type_name == "ReplyTooLarge"
