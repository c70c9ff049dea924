"""Reference replies computed once per batch and shared by every student who asks the same.

In a batch every student is graded with the batch's seed, so the checks ask the reference
the same questions for everyone, in the same order, until a student's answers send a check
down another path (a failing comparison asking the known mistakes, or stopping the check
before its later questions). Within a check, a reference worker is deterministic: what it
replies depends only on what the check asked it before. Across checks nothing carries
over: each check builds its own objects (check fixtures live for one check), and each
starts the reference from the same random state (grader.plugin reseeds it). So a reply is
stored under the *chain* of the request keys of its check up to and including its own
(grader.remote.Session keys name what was asked, of which object in which state, with
which tensor bytes, in which check): a student who failed one check is answered from the
cache again in the next, and the known mistakes' replies of a failing check are computed
once for every student who fails it the same way.

:class:`CachedReference` answers from the cache every request whose chain is stored (no
reference worker is even started while all are). At one that is not, it starts the live
worker (once), sends it what the cache answered of this check so far, in order, so the
worker reaches the state those replies came from, and asks it live, storing the reply for
the next student whose check goes the same way. Calls on objects the reference built (a
model loaded, trained) are shared like any other: their handles are named after the
request that made them.

The cache is a folder of files, one per reply, written atomically: a batch slot keeps one
for its life (and empties it past a size, :func:`prune`) and every per-submission process
it forks reads and adds to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

from grader.remote import Transport

_LENGTH = struct.Struct("!Q")
# A slot's cache past this is emptied (grader.batch.slot): replies of sessions that went
# their own way accumulate with class size, and the cache only saves time.
CACHE_BYTES = 512 * 1024 * 1024


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


def prune(folder: str | Path, limit: int = CACHE_BYTES) -> bool:
    """Empty ``folder`` when its replies take more than ``limit`` bytes; True if it did."""
    total = 0
    try:
        entries = list(os.scandir(folder))
        for entry in entries:
            total += entry.stat().st_size
    except OSError:
        return False
    if total <= limit:
        return False
    for entry in entries:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
    return True


class CachedReference:
    """A reference transport that answers from a :class:`ReplyCache` every request whose
    chain (within its check) some earlier student's session stored, and live the others."""

    keyed = True  # never the live worker's (see __getattr__): replies are stored by key

    def __init__(self, live: Transport, cache: ReplyCache):
        self._live, self._cache = live, cache
        self._chain = ""  # hash of this check's request keys so far: what the worker's state depends on
        self._unsent: list[tuple[str, dict, bytes]] = []  # this check's, answered from the cache, not yet sent live
        self.hits = self.misses = 0

    def begin_check(self, scope: str) -> None:
        """A new check (grader.remote.Session.begin): nothing of the last one matters to its
        replies, so neither to its chain nor to what the live worker must be told."""
        self._chain = hashlib.sha256(f"check\0{scope}".encode()).hexdigest()
        self._unsent = []

    def roundtrip(self, key: str, doc: dict, blob: bytes) -> tuple[dict, bytes]:
        self._chain = hashlib.sha256(f"{self._chain}\0{key}".encode()).hexdigest()
        stored = self._cache.get(self._chain)
        if stored is not None:
            self.hits += 1
            self._unsent.append((key, doc, blob))
            return stored
        # Bring the live worker to where the check is: ask it, in order, what the cache
        # answered since it last heard from us (its replies are those again).
        unsent, self._unsent = self._unsent, []
        for unsent_key, unsent_doc, unsent_blob in unsent:
            self._live.roundtrip(unsent_key, unsent_doc, unsent_blob)
        self.misses += 1
        reply, reply_blob = self._live.roundtrip(key, doc, blob)
        if not _out_of_memory(reply):
            self._cache.put(self._chain, reply, reply_blob)
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


def _out_of_memory(reply: dict) -> bool:
    """A reference that ran out of memory (a student on the same GPU took the card): that
    moment's, never a reply to give every later student who asks the same."""
    error = reply.get("error")
    return isinstance(error, dict) and error.get("type") in ("OutOfMemoryError", "MemoryError")


__all__ = ["CACHE_BYTES", "CachedReference", "ReplyCache", "namespace_for", "prune"]
