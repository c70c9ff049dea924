"""A reference without its code: record the solutions' replies once, replay them in a student kit.

Every request a :class:`~grader.remote.Session` sends has a deterministic key (what was
asked, of which object in which state, with which tensor bytes, and how often that exact
request was made before). ``grade release`` grades the course with a
:class:`RecordingTransport` around the live reference: each key and its reply (JSON
document plus safetensors bytes) go into a :class:`Recording`. A student kit ships one
recording per exercise beside the checks; its ``reference`` fixture is a
:class:`ReplayTransport` that answers from it. A key that was never recorded raises
:class:`~grader.remote.KitOutOfDate`: the check errors with "this student kit is out of
date", it never passes silently.

On disk, per exercise, beside the stub::

    <name>.reference.json   {"schema": 1, "exercise", "seeds", "device", "checks", "mistakes",
                             "replies": {key: {"ok"|"error": ..., "blob": [offset, length]}
                                              | {"raise": message}}}
    <name>.reference.bin    the reply blobs (safetensors), concatenated, each stored once

What the key cannot see, the index records, so a miss can say why: the ``--seed`` the
recording was made for (other seeds give other inputs), the device it ran on, and a hash
of each check file (a check edited after the release asks new questions).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.remote import KitOutOfDate, ReferenceFailure, RemoteError
from grader.spec import ExerciseSpec

SCHEMA = 1
INDEX_SUFFIX = ".reference.json"
BLOB_SUFFIX = ".reference.bin"


class RecordingError(ValueError):
    """A recording file is missing or unreadable; the message is one line naming the file."""


def recording_paths(spec: ExerciseSpec) -> tuple[Path, Path]:
    """Where an exercise's recording lives: beside its stub."""
    folder = spec.stub.parent
    return folder / f"{spec.name}{INDEX_SUFFIX}", folder / f"{spec.name}{BLOB_SUFFIX}"


def find_recording(spec: ExerciseSpec) -> Path | None:
    """The recording index for ``spec``, if this installation has one (a student kit)."""
    index, _ = recording_paths(spec)
    return index if index.is_file() else None


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def checks_digests(spec: ExerciseSpec) -> dict[str, str]:
    """Check file name -> sha256 of its bytes (visible checks only)."""
    return {p.name: file_digest(p) for p in spec.checks if p.is_file()}


@dataclass
class Recording:
    """One exercise's recorded reference: key -> reply, plus what the keys depend on."""

    exercise: str
    replies: dict[str, dict] = field(default_factory=dict)  # key -> {"doc": ..., "blob": bytes} | {"raise": str}
    mistakes: list[str] | None = None
    seeds: set[int] = field(default_factory=set)
    device: str = "cpu"
    checks: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)  # keys that got different replies in different passes

    def add(self, key: str, entry: dict) -> None:
        old = self.replies.get(key)
        if old is None:
            self.replies[key] = entry
        elif old != entry and key not in self.conflicts:
            # The reference answered the same question differently (unseeded randomness?):
            # keep the first answer, and let the release report it.
            self.conflicts.append(key)

    # ------------------------------------------------------------------ files

    def save(self, index_path: Path, blob_path: Path) -> None:
        offsets: dict[str, tuple[int, int]] = {}
        chunks: list[bytes] = []
        size = 0
        replies: dict[str, dict] = {}
        for key in sorted(self.replies):
            entry = self.replies[key]
            if "raise" in entry:
                replies[key] = {"raise": entry["raise"]}
                continue
            doc = dict(entry["doc"])
            blob = entry.get("blob", b"")
            if blob:
                digest = hashlib.sha256(blob).hexdigest()
                if digest not in offsets:
                    offsets[digest] = (size, len(blob))
                    chunks.append(blob)
                    size += len(blob)
                doc["blob"] = list(offsets[digest])
            replies[key] = doc
        index = {
            "schema": SCHEMA,
            "exercise": self.exercise,
            "seeds": sorted(self.seeds),
            "device": self.device,
            "checks": self.checks,
            "mistakes": self.mistakes if self.mistakes is not None else [],
            "blobs": blob_path.name,
            "replies": replies,
        }
        blob_path.write_bytes(b"".join(chunks))
        # Never sort_keys: a reply's dicts keep the worker's order (a state_dict sent back
        # by a check must encode, and so be keyed, exactly as it was live).
        index_path.write_text(json.dumps(index, separators=(",", ":")))

    @classmethod
    def load(cls, index_path: Path) -> "Recording":
        index_path = Path(index_path)
        try:
            index = json.loads(index_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecordingError(f"{index_path}: cannot read the recorded reference ({exc})") from None
        if not isinstance(index, dict) or index.get("schema") != SCHEMA:
            raise RecordingError(f"{index_path}: not a recorded reference of schema {SCHEMA}")
        blob_path = index_path.with_name(str(index.get("blobs", "")))
        try:
            blobs = blob_path.read_bytes() if blob_path.is_file() else b""
        except OSError as exc:
            raise RecordingError(f"{blob_path}: cannot read the recorded reference ({exc})") from None
        rec = cls(
            exercise=str(index.get("exercise", "")),
            mistakes=list(index.get("mistakes", [])),
            seeds=set(index.get("seeds", [])),
            device=str(index.get("device", "cpu")),
            checks=dict(index.get("checks", {})),
        )
        for key, doc in index.get("replies", {}).items():
            if "raise" in doc:
                rec.replies[key] = {"raise": doc["raise"]}
                continue
            doc = dict(doc)
            span = doc.pop("blob", None)
            blob = b""
            if span:
                offset, length = int(span[0]), int(span[1])
                blob = blobs[offset : offset + length]
                if len(blob) != length:
                    raise RecordingError(f"{blob_path}: truncated (the kit is damaged; get a fresh copy)")
            rec.replies[key] = {"doc": doc, "blob": blob}
        return rec


# --------------------------------------------------------------------------- recording


class RecordingTransport:
    """Wraps a live reference transport; every reply it gives is stored under its key."""

    # Record every known-mistake call, not only those a failing check makes: see
    # Namespace.diagnose, which is lazy elsewhere.
    eager_diagnose = True
    keyed = True  # each reply is stored under its key

    def __init__(self, live, recording: Recording):
        self.live = live
        self.recording = recording
        self.role = live.role
        self.subject = live.subject

    def roundtrip(self, key: str, doc: dict, blob: bytes) -> tuple[dict, bytes]:
        try:
            reply, reply_blob = self.live.roundtrip(key, doc, blob)
        except RemoteError as exc:
            # The worker itself failed (timeout, crash): replay that failure too.
            self.recording.add(key, {"raise": str(exc)})
            raise
        self.recording.add(key, {"doc": reply, "blob": reply_blob})
        return reply, reply_blob

    def mistakes(self) -> list[str]:
        names = list(self.live.mistakes())
        if self.recording.mistakes is None:
            self.recording.mistakes = names
        return names

    def close(self) -> None:
        self.live.close()


class Recorder:
    """Collects recordings for several exercises across grading passes.

    Use :meth:`transport_factory` as ``GradeOptions.reference_transport``.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.recordings: dict[str, Recording] = {}

    def recording_for(self, spec: ExerciseSpec) -> Recording:
        if spec.name not in self.recordings:
            self.recordings[spec.name] = Recording(spec.name, device=self.device, checks=checks_digests(spec))
        return self.recordings[spec.name]

    def transport_factory(self, zygote=None, seed: int = 0):
        from grader.live import LiveTransport
        from grader.zygote import default_zygote

        def make(spec: ExerciseSpec, config) -> RecordingTransport:
            recording = self.recording_for(spec)
            recording.seeds.add(int(seed))
            live = LiveTransport(zygote or default_zygote(), config, f"the reference {spec.module}")
            return RecordingTransport(live, recording)

        return make


# --------------------------------------------------------------------------- replaying


class ReplayTransport:
    """Answers a Session's requests from a Recording; an unknown key means an out-of-date kit."""

    # Diagnose as eagerly as the recording did: replaying is free, and it keeps a check's
    # sequence of requests (hence the occurrence counts in its keys, and the handle ids
    # derived from them) the same as when it was recorded, whatever the student fails.
    eager_diagnose = True
    keyed = True

    def __init__(
        self,
        recording: Recording,
        subject: str,
        seed: int | None = None,
        device: str | None = None,
        checks: dict[str, str] | None = None,
    ):
        self.recording = recording
        self.role = "reference"
        self.subject = subject
        self.seed = seed
        self.device = device
        self.current_checks = checks

    @classmethod
    def for_spec(cls, spec: ExerciseSpec, seed: int | None = None, device: str | None = None) -> "ReplayTransport":
        index = find_recording(spec)
        if index is None:
            raise RecordingError(f"no recorded reference for {spec.name} (expected {recording_paths(spec)[0]})")
        return cls(Recording.load(index), f"the reference {spec.module}", seed, device, checks_digests(spec))

    def roundtrip(self, key: str, doc: dict, blob: bytes) -> tuple[dict, bytes]:
        entry = self.recording.replies.get(key)
        if entry is None:
            raise KitOutOfDate(self._miss_message(doc))
        if "raise" in entry:
            raise ReferenceFailure(entry["raise"])
        reply = entry["doc"]
        if self.device and self.device != self.recording.device and _has_device(doc, self.device):
            # Recorded on another device: the live reference would have answered on the
            # device of the tensors it was given.
            reply = _retag(reply, self.device)
        return reply, entry["blob"]

    def _miss_message(self, doc: dict) -> str:
        what = ".".join(doc.get("target", {}).get("path", [])) or "the module"
        op = doc.get("op", "call")
        text = f"{self.subject} was never asked this ({op} {what}) when the kit was built"
        reasons = []
        seeds = sorted(self.recording.seeds)
        if self.seed is not None and seeds and self.seed not in seeds:
            reasons.append(
                f"it was recorded for --seed {', '.join(map(str, seeds))} only; grading with --seed {self.seed} "
                f"needs a kit built with `grade release --seed {self.seed}`"
            )
        if self.current_checks is not None and self.recording.checks and self.current_checks != self.recording.checks:
            changed = sorted(n for n in set(self.current_checks) | set(self.recording.checks)
                             if self.current_checks.get(n) != self.recording.checks.get(n))
            reasons.append(f"{', '.join(changed)} changed after the kit was built (restore the file as shipped)")
        if self.device and self.device != self.recording.device:
            reasons.append(f"it was recorded on {self.recording.device}; try --device {self.recording.device}")
        if not reasons:
            reasons.append("ask for a kit built from the current course")
        return text + "; " + "; ".join(reasons)

    def mistakes(self) -> list[str]:
        return list(self.recording.mistakes or [])

    def close(self) -> None:
        pass


def _has_device(tree: Any, device: str) -> bool:
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tree.get("device") == device
        return any(_has_device(v, device) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_device(v, device) for v in tree)
    return False


def _retag(tree: Any, device: str) -> Any:
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return {**tree, "device": device}
        return {k: _retag(v, device) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_retag(v, device) for v in tree]
    return tree


def recorded_devices(specs: list[ExerciseSpec]) -> set[str]:
    """The devices the recordings of ``specs`` were made on (read from their indexes)."""
    devices = set()
    for spec in specs:
        index = find_recording(spec)
        if index is None:
            continue
        try:
            devices.add(str(json.loads(index.read_text()).get("device", "cpu")))
        except (OSError, ValueError, AttributeError):
            continue
    return devices


def recorded_seeds(specs: list[ExerciseSpec]) -> set[int] | None:
    """The seeds every recording of ``specs`` holds (None when none of them has a recording)."""
    found: set[int] | None = None
    for spec in specs:
        index = find_recording(spec)
        if index is None:
            continue
        try:
            seeds = {int(s) for s in json.loads(index.read_text()).get("seeds", [])}
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # an unreadable recording is reported when the checks run
        found = seeds if found is None else found & seeds
    return found


__all__ = [
    "Recording",
    "RecordingError",
    "RecordingTransport",
    "Recorder",
    "ReplayTransport",
    "find_recording",
    "recording_paths",
    "recorded_devices",
    "recorded_seeds",
]
