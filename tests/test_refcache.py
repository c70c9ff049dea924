"""Reference replies shared across students (grader.refcache): never a different verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import grade_file, submission_file
from grader.refcache import CachedReference, ReplyCache

CLASS = {
    "softmax": ["constant.py", "detached.py", "einsum.py", "float32_always.py"],
    "attention": ["baddbmm_manual_softmax.py", "inverted_mask.py", "no_scaling.py", "qkv_swapped.py"],
    "positional_encoding": ["concatenated.py", "exponent_i.py", "swapped.py", "tutorial.py"],
    "ner_head": ["drop_last_span.py", "every_subword.py", "inclusive_spans.py"],
}


def _verdicts(result) -> list[dict]:
    return [c.to_json() for c in result.checks]


@pytest.mark.parametrize("exercise", sorted(CLASS))
def test_a_class_gets_the_same_verdicts_with_and_without_shared_replies(exercise, tmp_path):
    """Each submission graded live, then as the class's later students (replies shared)."""
    cache = tmp_path / "replies"
    names = CLASS[exercise]
    for name in names:
        path = submission_file(exercise, name)  # a kept file or a variant written from its base
        alone = grade_file(exercise, path, seed=11)
        shared = grade_file(exercise, path, seed=11, reference_cache=str(cache))
        assert _verdicts(shared) == _verdicts(alone), name
    assert any(cache.iterdir()), "nothing was shared"
    # The last student again, now that every reply is there: still the same.
    last = submission_file(exercise, names[-1])
    again = grade_file(exercise, last, seed=11, reference_cache=str(cache))
    assert _verdicts(again) == _verdicts(grade_file(exercise, last, seed=11))


class _FakeLive:
    role = "reference"
    subject = "the reference softmax"

    def __init__(self, reply: dict):
        self.reply, self.calls = reply, 0

    def roundtrip(self, key, doc, blob):
        self.calls += 1
        return dict(self.reply), b"bytes"

    def mistakes(self):
        return ["wrong_dim"]

    def close(self):
        pass


CALL = {"op": "call", "target": {"root": "module", "path": ["softmax"]}, "args": [], "kwargs": {}}


@pytest.mark.parametrize(
    "doc, reply, shared",
    [
        (CALL, {"ok": 1, "rng_unchanged": True}, True),
        (CALL, {"ok": 1, "rng_unchanged": False}, False),  # it drew random numbers: run it live
        (CALL, {"ok": 1}, False),  # the worker did not say: never assume
        (CALL, {"ok": {"__handle__": "h1", "type": "Linear"}, "rng_unchanged": True}, False),  # built an object
        ({**CALL, "target": {"root": "h3", "path": ["forward"]}}, {"ok": 1, "rng_unchanged": True}, False),
        ({**CALL, "args": [{"__handle__": "h3", "type": "Block"}]}, {"ok": 1, "rng_unchanged": True}, False),
        ({"op": "seed", "seed": 3}, {"ok": None, "rng_unchanged": False}, False),
        ({**CALL, "target": {"root": "mistake:wrong_dim", "path": ["softmax"]}}, {"ok": 2, "rng_unchanged": True}, True),
    ],
)
def test_only_replies_that_change_nothing_in_the_reference_are_shared(tmp_path, doc, reply, shared):
    live = _FakeLive(reply)
    cached = CachedReference(live, ReplyCache(tmp_path, "ns"))
    first = cached.roundtrip("k.0", json.loads(json.dumps(doc)), b"")
    second = cached.roundtrip("k.0", json.loads(json.dumps(doc)), b"")
    assert first == second == (reply, b"bytes")
    assert live.calls == (1 if shared else 2)


def test_replies_of_another_reference_are_never_served(tmp_path):
    reply = {"ok": 1, "rng_unchanged": True}
    CachedReference(_FakeLive(reply), ReplyCache(tmp_path, "solution v1")).roundtrip("k.0", CALL, b"")
    other = _FakeLive({"ok": 2, "rng_unchanged": True})
    assert CachedReference(other, ReplyCache(tmp_path, "solution v2")).roundtrip("k.0", CALL, b"")[0]["ok"] == 2
    assert other.calls == 1


def test_a_torn_reply_file_is_a_miss(tmp_path):
    store = ReplyCache(tmp_path, "ns")
    store.put("k.0", {"ok": 1}, b"blob")
    (path,) = [p for p in Path(tmp_path).iterdir()]
    path.write_bytes(path.read_bytes()[:5])
    assert store.get("k.0") is None
