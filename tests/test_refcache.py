"""Reference replies shared across students (grader.refcache): never a different verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import grade_file, submission_file
from grader.refcache import CachedReference, ReplyCache, prune

CLASS = {
    "softmax": ["constant.py", "detached.py", "einsum.py", "float32_always.py"],
    "attention": ["baddbmm_manual_softmax.py", "inverted_mask.py", "no_scaling.py", "qkv_swapped.py"],
    "positional_encoding": ["concatenated.py", "exponent_i.py", "swapped.py", "tutorial.py"],
    "ner_head": ["drop_last_span.py", "every_subword.py", "inclusive_spans.py"],
    # Objects the reference builds (blocks, loaded state dicts) come back as handles.
    "decoder_block": ["not_causal.py", "manual_layernorm.py", "given_attention.py"],
}
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def _attempt(exercise: str, name: str) -> Path:
    # The reference itself: a correct student, whose every reply a later one shares.
    return SOLUTIONS / f"{exercise}.py" if name == "correct" else submission_file(exercise, name)


def _verdicts(result) -> list[dict]:
    return [c.to_json() for c in result.checks]


@pytest.mark.parametrize("exercise", sorted(CLASS))
def test_a_class_gets_the_same_verdicts_with_and_without_shared_replies(exercise, tmp_path):
    """Each submission graded live, then as the class's later students (replies shared)."""
    cache = tmp_path / "replies"
    names = ["correct", *CLASS[exercise], "correct"]
    for name in names:
        path = _attempt(exercise, name)  # a kept file or a variant written from its base
        alone = grade_file(exercise, path, seed=11)
        shared = grade_file(exercise, path, seed=11, reference_cache=str(cache))
        assert _verdicts(shared) == _verdicts(alone), name
    assert any(cache.iterdir()), "nothing was shared"
    # The last student again, now that every reply is there: still the same.
    last = _attempt(exercise, CLASS[exercise][-1])
    again = grade_file(exercise, last, seed=11, reference_cache=str(cache))
    assert _verdicts(again) == _verdicts(grade_file(exercise, last, seed=11))


class _Worker:
    """A fake live reference whose replies depend on everything it was asked before, as a
    real worker's state does; counts what reaches it."""

    role = "reference"
    subject = "the reference"

    def __init__(self):
        self.asked: list[str] = []

    def roundtrip(self, key, doc, blob):
        self.asked.append(key)
        return {"ok": "|".join(self.asked)}, key.encode()

    def mistakes(self):
        return ["wrong_dim"]

    def close(self):
        pass


def _session(cache: ReplyCache, keys: list[str]) -> tuple[list, _Worker]:
    worker = _Worker()
    cached = CachedReference(worker, cache)
    return [cached.roundtrip(k, {"op": "call"}, b"") for k in keys], worker


def test_a_session_that_follows_a_stored_chain_starts_no_worker(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    first, worker = _session(cache, ["a.0", "b.0", "c.0"])
    assert worker.asked == ["a.0", "b.0", "c.0"]
    again, worker = _session(cache, ["a.0", "b.0", "c.0"])
    assert again == first
    assert worker.asked == []


def test_a_session_that_turns_off_replays_what_it_was_answered_then_goes_live(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    _session(cache, ["a.0", "b.0", "c.0"])
    replies, worker = _session(cache, ["a.0", "b.0", "x.0", "c.0"])
    # The live worker heard a and b first, so its replies are what an uncached run gives.
    assert worker.asked == ["a.0", "b.0", "x.0", "c.0"]
    uncached = _Worker()
    assert replies == [uncached.roundtrip(k, {}, b"") for k in ["a.0", "b.0", "x.0", "c.0"]]


def test_the_same_request_after_another_history_is_not_the_same_reply(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    _session(cache, ["a.0", "c.0"])
    replies, worker = _session(cache, ["b.0", "c.0"])
    assert replies[1][0]["ok"] == "b.0|c.0"
    assert worker.asked == ["b.0", "c.0"]


def test_a_later_student_with_the_same_turn_shares_it_too(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    _session(cache, ["a.0", "b.0"])
    _session(cache, ["a.0", "x.0", "y.0"])
    replies, worker = _session(cache, ["a.0", "x.0", "y.0"])
    assert worker.asked == []
    assert replies[2][0]["ok"] == "a.0|x.0|y.0"


def _checks(cache: ReplyCache, checks: dict[str, list[str]]) -> tuple[dict, _Worker]:
    """One session of several checks: check name -> its request keys."""
    worker = _Worker()
    cached = CachedReference(worker, cache)
    replies = {}
    for check, keys in checks.items():
        cached.begin_check(check)
        replies[check] = [cached.roundtrip(k, {"op": "call"}, b"") for k in keys]
    return replies, worker


def test_a_check_after_one_that_went_its_own_way_is_answered_from_the_cache(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    correct, _ = _checks(cache, {"c1": ["a.0", "b.0"], "c2": ["c.0", "d.0"]})
    # This student's c1 stopped after a, and asked the known mistakes (x) instead of b.
    failing, worker = _checks(cache, {"c1": ["a.0", "x.0"], "c2": ["c.0", "d.0"]})
    assert worker.asked == ["a.0", "x.0"]
    assert failing["c2"] == correct["c2"]


def test_a_miss_replays_only_what_its_own_check_was_answered(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    _checks(cache, {"c1": ["a.0", "b.0"], "c2": ["c.0"]})
    _, worker = _checks(cache, {"c1": ["a.0", "b.0"], "c2": ["c.0", "y.0"]})
    assert worker.asked == ["c.0", "y.0"]


def test_the_same_keys_in_another_check_are_another_chain(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    _checks(cache, {"c1": ["a.0"]})
    _, worker = _checks(cache, {"c2": ["a.0"]})
    assert worker.asked == ["a.0"]


def test_each_check_starts_the_reference_from_its_own_seed(monkeypatch, tmp_path):
    """What lets replies be shared by check: the first thing a check asks the reference is
    to reseed it, with the check's seed, whatever ran before."""
    from conftest import grade_file

    asked: list[tuple[str, dict]] = []
    begin, roundtrip = CachedReference.begin_check, CachedReference.roundtrip
    monkeypatch.setattr(CachedReference, "begin_check", lambda self, scope: (asked.append((scope, {})), begin(self, scope))[1])
    monkeypatch.setattr(CachedReference, "roundtrip",
                        lambda self, key, doc, blob: (asked.append(("", doc)), roundtrip(self, key, doc, blob))[1])  # fmt: skip
    result = grade_file("attention", SOLUTIONS / "attention.py", seed=5, reference_cache=str(tmp_path / "replies"))
    assert result.score == result.max_score
    starts = [i for i, (scope, _) in enumerate(asked) if scope]
    assert len(starts) >= 10
    seeds = {asked[i][0]: asked[i + 1][1] for i in starts}
    for check, first in seeds.items():
        assert first.get("op") == "seed", (check, first)
    assert len({first["seed"] for first in seeds.values()}) == len(seeds), "one seed per check"


def test_replies_of_another_reference_are_never_served(tmp_path):
    _session(ReplyCache(tmp_path, "solution v1"), ["k.0"])
    _, worker = _session(ReplyCache(tmp_path, "solution v2"), ["k.0"])
    assert worker.asked == ["k.0"]


def test_the_known_mistakes_are_shared(tmp_path):
    cache = ReplyCache(tmp_path, "ns")
    assert CachedReference(_Worker(), cache).mistakes() == ["wrong_dim"]
    worker = _Worker()
    worker.mistakes = None  # asking it would fail: the cache answers
    assert CachedReference(worker, cache).mistakes() == ["wrong_dim"]


def test_a_cache_past_its_size_is_emptied(tmp_path):
    store = ReplyCache(tmp_path, "ns")
    for i in range(4):
        store.put(f"k.{i}", {"ok": i}, b"x" * 1000)
    assert not prune(tmp_path, limit=10_000)
    assert store.get("k.3") is not None
    assert prune(tmp_path, limit=2_000)
    assert store.get("k.3") is None and not any(Path(tmp_path).iterdir())


def test_a_torn_reply_file_is_a_miss(tmp_path):
    store = ReplyCache(tmp_path, "ns")
    store.put("k.0", {"ok": 1}, b"blob")
    (path,) = [p for p in Path(tmp_path).iterdir()]
    path.write_bytes(path.read_bytes()[:5])
    assert store.get("k.0") is None


class _Recorder:
    """A transport that keeps each request's key and answers None."""

    subject = "it"

    def __init__(self, role: str, keyed: bool | None):
        self.role, self.keys = role, []
        if keyed is not None:
            self.keyed = keyed

    def roundtrip(self, key, doc, blob):
        assert doc["rid"] == key
        self.keys.append(key)
        return {"ok": None}, b""


def _ask_twice(transport) -> list[str]:
    import torch

    from grader.remote import Session

    session = Session(transport, "it")
    session.begin("test_a")
    for _ in range(2):
        session.request("call", "module", ("softmax",), args=(torch.arange(6.0),))
    session.begin("test_b")
    session.request("call", "module", ("softmax",), args=(torch.arange(6.0),))
    return transport.keys


def test_keys_name_what_was_asked_where_replies_are_looked_up_by_them():
    keys = _ask_twice(_Recorder("reference", keyed=None))  # a transport that does not say: keyed
    # The same request in one check counts up; another check's is its own, counted afresh.
    assert keys[0].endswith(".0") and keys[1].endswith(".1") and keys[0][:-2] == keys[1][:-2]
    assert keys[2].endswith(".0") and keys[2] != keys[0]
    assert _ask_twice(_Recorder("reference", keyed=True)) == keys


def test_an_unkeyed_transport_gets_unique_ids_without_the_tensors_being_hashed(monkeypatch):
    import grader.remote

    def no_hashing(tensors):
        raise AssertionError("hashed the tensors of a request no one looks up by its key")

    monkeypatch.setattr(grader.remote, "tensor_digest", no_hashing)
    keys = _ask_twice(_Recorder("student", keyed=False))
    assert len(set(keys)) == 3


def test_which_transports_are_keyed(tmp_path):
    from grader.live import LiveTransport
    from grader.replay import RecordingTransport, ReplayTransport

    assert LiveTransport.keyed is False
    # The cache is keyed even though it hands every other attribute on to its live worker.
    assert CachedReference(_Recorder("reference", keyed=False), ReplyCache(tmp_path, "ns")).keyed is True
    assert RecordingTransport.keyed is True and ReplayTransport.keyed is True


def test_a_reference_that_ran_out_of_memory_is_never_a_stored_reply(tmp_path):
    """A student on the same GPU can take the card: the reference's "ran out of memory"
    belongs to that moment, not to every later student who asks the same."""
    cache = ReplyCache(tmp_path, "ns")

    class OutOfMemory(_Worker):
        def roundtrip(self, key, doc, blob):
            self.asked.append(key)
            return {"error": {"type": "OutOfMemoryError", "message": "CUDA out of memory"}}, b""

    CachedReference(OutOfMemory(), cache).roundtrip("k.0", {"op": "call"}, b"")
    _, worker = _session(cache, ["k.0"])
    assert worker.asked == ["k.0"]  # asked again, live
