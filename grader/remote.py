"""The trusted side of the worker boundary: what the ``student`` and ``reference`` fixtures are.

- :class:`Transport` is what a :class:`Session` sends requests through: live workers
  (``grader.live``), or a reference recorded by a release and replayed in a student
  kit (``grader.replay``).
- :class:`Session` turns Python calls into requests and replies into values. Every
  request gets a deterministic *key* (a hash of what was asked, of what object, in which
  state), so a recorded reference can be replayed without its code.
- :class:`Namespace` (``student.softmax(x)``) and :class:`Remote` (a handle or a path
  into one: ``block.ln_1.weight``) are what checks hold.

Errors raised by submitted code arrive as :class:`StudentError`, an AssertionError, so a
check that calls broken code fails with a message instead of erroring.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from grader import wire
from grader.errors import (
    KitOutOfDate,
    ReferenceFailure,
    RemoteError,
    StudentError,
    error_doc,
    format_error,
    outcome_type,
)
from grader.boundary import MISTAKE_PREFIX, ROOT_MODULE

__all__ = [
    "KitOutOfDate", "ReferenceFailure", "RemoteError", "StudentError",  # re-exported for checks
    "Transport", "Session", "Remote", "Namespace", "VJP", "CallWithInputs", "LazyMistakes",
    "fetch", "vjp", "call_with_inputs", "tensor_digest",
]  # fmt: skip

# --------------------------------------------------------------------------- transports


class Transport(Protocol):
    """Where a Session's requests go. ``key`` identifies the request deterministically.

    Implemented by grader.live.LiveTransport (a worker), grader.replay's transports (a
    recorded reference), grader.refcache.CachedReference and the runner's stand-ins."""

    role: str  # "student" or "reference"
    subject: str  # how messages name it: "your softmax.py", "the reference softmax"
    # Run every known-mistake variant as soon as a check asks (a release records them all),
    # instead of only when a comparison fails.
    eager_diagnose: bool
    # Whether replies are looked up by ``key`` (a cache, a recording, a replay). A transport
    # that ignores it (a live worker) spares the Session hashing every request's tensors; a
    # transport without the attribute is taken to be keyed.
    keyed: bool

    def roundtrip(self, key: str, doc: dict, blob: bytes) -> tuple[dict, bytes]: ...

    def mistakes(self) -> list[str]:
        """The names of the known mistakes this side can play (none for a student)."""
        ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- sessions


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def tensor_digest(tensors: dict[str, Any]) -> dict[str, str]:
    """Hash each tensor's dtype, shape and bytes (device-independent)."""
    import torch

    out = {}
    for name, t in tensors.items():
        h = hashlib.sha256(f"{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy())  # its buffer, not a copy
        out[name] = h.hexdigest()
    return out


class Session:
    """Python calls -> keyed requests -> values, over one Transport."""

    def __init__(self, transport: Transport, subject: str):
        self.transport = transport
        self.subject = subject
        self._states: dict[str, str] = {}  # handle id -> key of its latest state
        self._types: dict[str, str] = {}  # handle id -> its object's type name
        self._seen: dict[str, int] = {}  # request digest -> how often asked so far
        self._keyed = getattr(transport, "keyed", True)
        self._sent = 0  # requests so far: an unkeyed transport's request ids
        self.scope = ""  # the check being run: keys are scoped to it
        # Forbidden calls a student worker reported (grader.rules), with the check they
        # were made in; the plugin takes them when the check ends.
        self._forbidden: list[tuple[str, Any]] = []

    def begin(self, scope: str) -> bool:
        """Start check ``scope``; True if it is new to this session. Request keys are counted
        per check, so whatever another check asked (or did not ask) never shifts this one's
        keys; a transport that stores replies by check (grader.refcache) is told too."""
        if scope == self.scope:
            return False
        self.scope = scope
        self._seen.clear()
        begin_check = getattr(self.transport, "begin_check", None)
        if begin_check is not None:
            begin_check(scope)
        return True

    def _state_of(self, root: str) -> str:
        if root == ROOT_MODULE or root.startswith(MISTAKE_PREFIX):
            return root
        return self._states.get(root, root)

    def _encode(self, value: Any, enc: wire.Encoder) -> Any:
        return enc.encode(_handles_to_wire(value))

    def request(self, op: str, root: str, path: tuple[str, ...] = (), args=(), kwargs=None, **extra) -> Any:
        enc = wire.Encoder()
        doc: dict = {"op": op, "target": {"root": root, "path": list(path)}, **extra}
        if op in ("call", "vjp"):
            doc["args"] = self._encode(list(args), enc)
            doc["kwargs"] = self._encode(dict(kwargs or {}), enc)
        for name in ("grad_output",):
            if name in extra:
                doc[name] = self._encode(extra[name], enc)
        blob = enc.blob()
        key = self._key(doc, enc.tensors)
        doc["rid"] = key
        reply, reply_blob = self.transport.roundtrip(key, doc, blob)
        if root not in (ROOT_MODULE,) and not root.startswith(MISTAKE_PREFIX) and op in ("call", "vjp"):
            # A method call may change the object: later requests see a new state.
            self._states[root] = key
        return self._answer(reply, reply_blob, self.name_of(root, path))

    def name_of(self, root: str, path: tuple[str, ...]) -> str:
        """How messages name what a request reached: its attribute path, or, for a call of
        an object itself, the object's type ("calling the DecoderBlock")."""
        return ".".join(path) or f"calling the {self._types.get(root, 'object')}"

    def _answer(self, reply: dict, reply_blob: bytes, what: str) -> Any:
        """The value a reply carries, or the error it reports raised as this side's."""
        if self.transport.role != "student":
            if "error" in reply:
                err = error_doc(reply["error"])
                raise ReferenceFailure(format_error(f"{self.subject}: {what}", err), outcome_type(err), err["where"])
            if "ok" not in reply:
                raise wire.ProtocolError("reply has neither 'ok' nor 'error'")
            return wire.Decoder(reply_blob, self._remote).decode(reply["ok"])
        if reply.get("forbidden"):
            from grader.rules import reported_uses

            self._forbidden += [(self.scope, use) for use in reported_uses(reply["forbidden"])]
        if "error" in reply:
            err = error_doc(reply["error"])
            raise StudentError(format_error(what, err, owner=self.subject), outcome_type(err), err["where"])
        try:
            if "ok" not in reply:
                raise wire.ProtocolError("reply has neither 'ok' nor 'error'")
            return wire.Decoder(reply_blob, self._remote, wire.computable_dtypes()).decode(reply["ok"])
        except wire.UnsupportedDtype as exc:
            raise StudentError(f"{what} returned {exc}, which the checks cannot compute with: return a float32 or "
                               "float64 tensor (the dtype of its input)", "UnsupportedDtype") from None  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - nothing a worker of ours sends: the submission wrote it
            raise StudentError(f"{self.subject} sent a reply to {what} that the grader could not read ({exc})",
                               "ProtocolError") from None  # fmt: skip

    def _remote(self, handle: wire.Handle) -> "Remote":
        self._types[handle.id] = handle.type_name  # how messages name a call of the object itself
        return Remote(self, handle.id, (), handle.type_name)

    def _key(self, doc: dict, tensors: dict[str, Any]) -> str:
        """The request's key: what was asked, of which object in which state, with which
        data, and how often this check asked it before. Unique and cheap where the transport
        ignores keys (the worker names the objects it builds after it all the same)."""
        self._sent += 1
        if not self._keyed:
            return f"n{self._sent}"
        shape = {"scope": self.scope, "doc": _strip_ids(doc, self), "tensors": tensor_digest(tensors)}
        digest = _digest(shape)
        count = self._seen.get(digest, 0)
        self._seen[digest] = count + 1
        return f"{digest[:32]}.{count}"

    def take_forbidden(self, scope: str) -> list:
        """The forbidden calls (grader.rules.Use) reported during check ``scope``; forgotten after."""
        mine = [use for s, use in self._forbidden if s == scope]
        self._forbidden = [(s, use) for s, use in self._forbidden if s != scope]
        return mine

    def close(self) -> None:
        self.transport.close()


def _strip_ids(doc: dict, session: Session) -> dict:
    """The request as it will be keyed: handle ids replaced by their object's state."""

    def walk(value):
        if isinstance(value, dict):
            if "__handle__" in value:
                return {"__handle__": session._state_of(value["__handle__"])}
            # A tensor's device is left out: a recording made on one device replays on another.
            skip = ("rid", "device") if "__tensor__" in value else ("rid",)
            return {k: walk(v) for k, v in value.items() if k not in skip}
        if isinstance(value, list):
            return value if wire.plain_items(value) else [walk(v) for v in value]
        return value

    out = walk(doc)
    out["target"]["root"] = session._state_of(doc["target"]["root"])
    return out


def _handles_to_wire(value: Any) -> Any:
    if isinstance(value, Remote):
        if value._path:
            raise TypeError("pass a handle itself, not an attribute path of one, as an argument")
        return wire.Handle(value._root, value._type)
    if isinstance(value, (list, tuple)):
        if wire.plain_items(value):  # token ids, tags: no handle to convert
            return value if type(value) in (list, tuple) else list(value)
        converted = [_handles_to_wire(v) for v in value]
        return type(value)(converted) if type(value) in (list, tuple) else converted
    if isinstance(value, dict):
        return {_handles_to_wire(k): _handles_to_wire(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- what checks hold


@dataclass
class VJP:
    """Result of calling a function and backpropagating a gradient through it."""

    output: Any
    input_grads: list[Any]
    param_grads: dict[str, Any] = field(default_factory=dict)


class Remote:
    """A handle to an object in a worker, or an attribute path into one.

    Attribute access is lazy (no round trip); calling sends a request. Use
    :func:`fetch` to read an attribute's value, :func:`vjp` for gradients.
    """

    def __init__(self, session: Session, root: str, path: tuple[str, ...] = (), type_name: str = "object"):
        self._session, self._root, self._path, self._type = session, root, path, type_name

    def __getattr__(self, name: str) -> "Remote":
        if name.startswith("__"):
            raise AttributeError(name)
        return Remote(self._session, self._root, self._path + (name,), self._type)

    def __call__(self, *args, **kwargs) -> Any:
        return self._session.request("call", self._root, self._path, args, kwargs)

    def __repr__(self) -> str:
        where = ".".join(self._path)
        return f"<remote {self._type}{'.' + where if where else ''}>"

    def __bool__(self) -> bool:
        return True


def fetch(ref: Remote) -> Any:
    """Read the value an attribute path points at (data, or a new handle)."""
    return ref._session.request("get", ref._root, ref._path)


def vjp(fn: Remote, *args, grad_output, output_index: int | None = None, **kwargs) -> VJP:
    """Call ``fn`` in its worker, backpropagate ``grad_output``, return output and grads.

    ``input_grads`` follow the order of the tensor arguments that require grad;
    ``param_grads`` is filled when ``fn`` is an ``nn.Module`` (or one of its methods).
    """
    extra = {"grad_output": grad_output}
    if output_index is not None:
        extra["output_index"] = output_index
    result = fn._session.request("vjp", fn._root, fn._path, args, kwargs, **extra)
    output, input_grads, param_grads = _fields(fn, result, ("output", object), ("input_grads", list), ("param_grads", dict))
    return VJP(output, input_grads, param_grads)


@dataclass
class CallWithInputs:
    """A call's output, and its arguments as the call left them in the worker."""

    output: Any
    args: list[Any]
    kwargs: dict[str, Any]


def call_with_inputs(fn: Remote, *args, **kwargs) -> CallWithInputs:
    """Call ``fn`` and also get back its arguments, to see whether it modified them."""
    result = fn._session.request("call", fn._root, fn._path, args, kwargs, return_inputs=True)
    output, call_args, call_kwargs = _fields(fn, result, ("output", object), ("args", list), ("kwargs", dict))
    return CallWithInputs(output, call_args, call_kwargs)


def _fields(fn: Remote, reply: Any, *fields: tuple[str, type]) -> list[Any]:
    """The named fields of a reply our worker builds as a dict. A submission can rewrite its
    own worker's replies: one of another shape is its failure, never the grader's."""
    if isinstance(reply, dict) and all(name in reply and isinstance(reply[name], kind) for name, kind in fields):
        return [reply[name] for name, _ in fields]
    session = fn._session
    what = session.name_of(fn._root, fn._path)
    error = f"{session.subject} sent a reply to {what} that the grader could not read (not the worker's own)"
    if session.transport.role != "student":
        raise ReferenceFailure(error, "ProtocolError")
    raise StudentError(error, "ProtocolError")


class LazyMistakes(Mapping):
    """A mapping computed on first use (see Namespace.diagnose)."""

    def __init__(self, compute: Callable[[], dict[str, Any]]):
        self._compute = compute
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class Namespace(Remote):
    """The module a worker loaded: ``student.softmax(x)``, ``reference.MultiHeadAttention(16, 4)``."""

    def __init__(self, session: Session, root: str = ROOT_MODULE, label: str = ""):
        super().__init__(session, root, (), "module")
        self._label = label

    def seed(self, seed: int) -> None:
        """Seed torch's generator in the worker (before building a module, say)."""
        self._session.request("seed", self._root, seed=int(seed))

    def mistake(self, name: str) -> "Namespace":
        """The reference with one known mistake swapped in (reference only)."""
        return Namespace(self._session, MISTAKE_PREFIX + name, name)

    def mistake_names(self) -> list[str]:
        return list(self._session.transport.mistakes())

    def diagnose(self, compute: Callable[["Namespace"], Any]) -> Mapping[str, Any]:
        """Run ``compute`` against every known-mistake variant; name -> its result.

        Variants that raise are left out. The result is lazy: the variants run only
        when a failing comparison looks at them, so a passing check costs nothing
        extra. A release records with ``eager_diagnose`` on its transport, so every
        variant's reply is in the kit whichever checks a student later fails (keys
        are scoped per check, so skipped calls do not shift later ones).
        """

        def run() -> dict[str, Any]:
            found: dict[str, Any] = {}
            for name in self.mistake_names():
                try:
                    found[name] = compute(self.mistake(name))
                except KitOutOfDate:
                    raise  # a replayed reference that was never asked this: say so, never skip
                except RemoteError:
                    continue
            return found

        if self._session.transport.eager_diagnose:
            return run()
        return LazyMistakes(run)

    def __repr__(self) -> str:
        return f"<{self._session.subject}>"

