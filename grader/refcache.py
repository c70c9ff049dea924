"""Reference replies computed once per batch and shared by every student who asks the same.

In a batch every student is graded with the batch's seed, so the checks ask the reference
the same questions for everyone: the request key (grader.remote.Session) names what was
asked, of which object, with which tensor bytes, in which check. :class:`CachedReference`
answers a request from the cache when an earlier student's grading stored its reply, and
otherwise asks the live reference worker (exactly as without a cache) and stores the reply.

Only replies that change nothing in the reference worker are shared, so skipping them
leaves that worker exactly as an uncached run would: calls of the module's functions (or a
known mistake's), with no object handles among the arguments or in the reply, that left
the random generator as they found it (the worker says so in ``rng_unchanged``). Calls on
objects the reference built (a model being loaded, trained, ...) always run live.

The cache is a folder of files, one per reply, written atomically: a batch slot keeps one
for its life and every per-submission process it forks reads and adds to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

from grader.remote import Transport

_HANDLE = '"__handle__"'
_LENGTH = struct.Struct("!Q")


class ReplyCache:
    """Replies by (namespace, request key), stored as files in ``folder``."""

    def __init__(self, folder: str | Path, namespace: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.namespace = namespace

    def _path(self, key: str) -> Path:
        return self.folder / hashlib.sha256(f"{self.namespace}\0{key}".encode()).hexdigest()

    def get(self, key: str) -> tuple[dict, bytes] | None:
        try:
            data = self._path(key).read_bytes()
        except OSError:
            return None
        if len(data) < _LENGTH.size:
            return None
        (size,) = _LENGTH.unpack_from(data)
        try:
            doc = json.loads(data[_LENGTH.size : _LENGTH.size + size])
        except ValueError:
            return None
        return doc, data[_LENGTH.size + size :]

    def put(self, key: str, doc: dict, blob: bytes) -> None:
        text = json.dumps(doc).encode()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_LENGTH.pack(len(text)) + text + blob)
            os.replace(tmp, self._path(key))  # readers see a whole reply or none
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def namespace_for(exercise: str, device: str, files: list[str | Path | None]) -> str:
    """What a stored reply depends on besides its request key: the exercise, the device, and
    the reference's own files (solution, known mistakes), by content."""
    digest = hashlib.sha256(f"{exercise}\0{device}".encode())
    for path in files:
        if path is not None and Path(path).is_file():
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _shareable_request(doc: dict) -> bool:
    root = str((doc.get("target") or {}).get("root", "module"))
    if root != "module" and not root.startswith("mistake:"):
        return False
    return doc.get("op") in ("call", "vjp", "get") and _HANDLE not in json.dumps(doc)


def _shareable_reply(reply: dict) -> bool:
    return reply.get("rng_unchanged") is True and _HANDLE not in json.dumps(reply)


class CachedReference:
    """A reference transport that answers shareable requests from a :class:`ReplyCache`."""

    def __init__(self, live: Transport, cache: ReplyCache):
        self._live, self._cache = live, cache
        self.hits = self.misses = 0

    def roundtrip(self, key: str, doc: dict, blob: bytes) -> tuple[dict, bytes]:
        shareable = _shareable_request(doc)
        if shareable:
            stored = self._cache.get(key)
            if stored is not None:
                self.hits += 1
                return stored
        self.misses += 1
        reply, reply_blob = self._live.roundtrip(key, doc, blob)
        if shareable and _shareable_reply(reply):
            self._cache.put(key, reply, reply_blob)
        return reply, reply_blob

    def mistakes(self) -> list[str]:
        stored = self._cache.get("\0mistakes")
        if stored is not None:
            return list(stored[0].get("names", []))
        names = list(self._live.mistakes())
        self._cache.put("\0mistakes", {"names": names}, b"")
        return names

    def close(self) -> None:
        self._live.close()

    def __getattr__(self, name: str):
        return getattr(self._live, name)


__all__ = ["CachedReference", "ReplyCache", "namespace_for"]
