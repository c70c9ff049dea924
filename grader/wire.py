"""The bytes that cross between the trusted grader and a worker process.

A frame is a fixed header (magic, JSON length, blob length), a JSON document and an
optional safetensors blob holding every tensor the document refers to. Nothing is ever
unpickled: the JSON is parsed with ``json`` and the blob with ``safetensors``, both of
which only build plain values, so a worker cannot smuggle an object with rigged
behaviour into the process that decides the score.

Values are encoded as a JSON tree in which tensors, tuples, dtypes, non-string-keyed
dicts and handles to objects that live in the worker are tagged dicts::

    {"__tensor__": "t3", "requires_grad": false, "device": "cpu"}
    {"__tensor__": "t4", ..., "layout": {"shape": [4, 6], "stride": [1, 4]}}  (KeepLayout)
    {"__tuple__": [...]}        {"__dtype__": "float32"}
    {"__dict__": [[k, v], ...]} {"__handle__": "h12", "type": "DecoderBlock"}
"""

from __future__ import annotations

import functools
import json
import math
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable

MAGIC = b"GRD1"
HEADER = struct.Struct("!4sII")
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_BLOB_BYTES = 2 * 1024 * 1024 * 1024 - 1
# The most a frame may hold at all (the header's own fields allow no more). A reader
# that does not trust its peer passes a smaller ``max_bytes`` to recv_frame.
MAX_FRAME_BYTES = MAX_JSON_BYTES + MAX_BLOB_BYTES
CHUNK_BYTES = 1 << 20

_TAGS = ("__tensor__", "__tuple__", "__dtype__", "__dict__", "__handle__", "__float__")


@dataclass(frozen=True)
class KeepLayout:
    """A tensor argument that must reach the worker with its own strides and offset, not
    as the contiguous copy every other tensor becomes (a check on non-contiguous input
    wraps its tensor in this). Only the span of storage the view reaches crosses; the
    worker rebuilds the view on it with ``torch.as_strided``."""

    tensor: Any


class ProtocolError(Exception):
    """The other side sent bytes that are not a well-formed frame."""


class ChannelClosed(Exception):
    """The other side closed the connection (for a worker: it exited)."""


@dataclass(frozen=True)
class Handle:
    """A reference to an object that lives in a worker and never crosses."""

    id: str
    type_name: str


def send_frame(sock: socket.socket, doc: dict, blob: bytes = b"", deadline: float | None = None) -> None:
    """Send one frame; with ``deadline`` (time.monotonic()), raise FrameTimeout past it."""
    payload = json.dumps(doc, allow_nan=False).encode()
    data = HEADER.pack(MAGIC, len(payload), len(blob)) + payload + blob
    if deadline is None:
        sock.sendall(data)
        return
    # sendall's timeout bounds the whole send, not each piece of it.
    sock.settimeout(_left(deadline))
    try:
        sock.sendall(data)
    except socket.timeout:
        raise FrameTimeout("the frame could not be sent before the deadline") from None


class FrameTimeout(Exception):
    """The deadline passed before the whole frame crossed."""


class FrameTooLarge(ProtocolError):
    """A header announced more bytes than the reader accepts; nothing was allocated."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"frame too large ({size} bytes, the limit is {limit})")
        self.size, self.limit = size, limit


def _left(deadline: float) -> float:
    """Seconds to the deadline; FrameTimeout once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise FrameTimeout("the deadline passed")
    return left


def _recv_into(sock: socket.socket, view: memoryview, deadline: float | None) -> None:
    """Fill ``view`` from the socket, in chunks; every wait is bounded by ``deadline``.

    The socket timeout is set again before each recv to what is left of the deadline, so
    a peer that trickles a byte at a time still runs out of time at the deadline, not
    one timeout per byte later.
    """
    while view:
        if deadline is not None:
            sock.settimeout(_left(deadline))
        try:
            n = sock.recv_into(view[:CHUNK_BYTES])
        except socket.timeout:
            if deadline is None:
                raise
            raise FrameTimeout("the deadline passed mid-frame") from None
        if not n:
            raise ChannelClosed("connection closed")
        view = view[n:]


def _recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytearray:
    buf = bytearray(n)
    _recv_into(sock, memoryview(buf), deadline)
    return buf


@dataclass(frozen=True)
class JsonLimits:
    """How much JSON a frame of an untrusted peer may hold: its bytes (checked against the
    header, before anything is read) and its objects and lists (counted before parsing):
    parsing costs far more memory and time than the bytes, and no call deadline covers it.
    The blob's safetensors header is JSON too, with one object per tensor, each of which
    becomes a tensor when the blob is read: held to the same limits."""

    max_bytes: int
    max_containers: int


class JsonTooLarge(ProtocolError):
    """A frame's JSON past its JsonLimits; nothing of it was parsed. ``what``: what it held
    ("30,002 objects and lists of JSON"); ``hint``: what honest code does instead."""

    def __init__(self, what: str, limit: str, hint: str):
        super().__init__(f"a reply with {what}, over the limit of {limit}")
        self.what, self.limit, self.hint = what, limit, hint


_LISTS_HINT = "Python lists or dicts of values where a tensor belongs?"


def recv_frame(
    sock: socket.socket, max_bytes: int = MAX_FRAME_BYTES, deadline: float | None = None,
    json_limits: JsonLimits | None = None,
) -> tuple[dict, bytes]:
    """Read one frame; raise ProtocolError on anything malformed.

    ``max_bytes`` caps the JSON and blob together and is checked against the header
    before any buffer for them exists (FrameTooLarge). ``deadline`` (a time.monotonic()
    value) bounds the whole read, header to last byte (FrameTimeout); None waits as the
    socket's own timeout says. ``json_limits``: a peer's JSON past them is JsonTooLarge.
    """
    header = bytes(_recv_exact(sock, HEADER.size, deadline))
    magic, json_len, blob_len = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame header {header[:12]!r}")
    if json_len > MAX_JSON_BYTES:
        # No frame of ours has that much JSON: this is not a frame at all.
        raise ProtocolError(f"a frame header announcing {json_len:,} bytes of JSON, past the protocol's limit")
    if blob_len > MAX_BLOB_BYTES or json_len + blob_len > max_bytes:
        raise FrameTooLarge(json_len + blob_len, min(max_bytes, MAX_FRAME_BYTES))
    if json_limits is not None and json_len > json_limits.max_bytes:
        raise JsonTooLarge(f"{json_len:,} bytes of JSON", f"{json_limits.max_bytes:,} bytes", _LISTS_HINT)
    text = _recv_exact(sock, json_len, deadline)
    if json_limits is not None:
        # Every object and list opens with one of these (a brace inside a string counts
        # too, which only errs on the strict side).
        containers = text.count(b"{") + text.count(b"[")
        if containers > json_limits.max_containers:
            raise JsonTooLarge(f"{containers:,} objects and lists of JSON", f"{json_limits.max_containers:,}", _LISTS_HINT)
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError; an int past Python's digit limit
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("frame is JSON nested too deep") from None
    except MemoryError:
        raise ProtocolError("frame is JSON too large to parse") from None
    if not isinstance(doc, dict):
        raise ProtocolError("frame is not a JSON object")
    # safetensors reads only bytes: the one copy of the blob is made once it is all here.
    blob = bytes(_recv_exact(sock, blob_len, deadline)) if blob_len else b""
    if json_limits is not None and len(blob) >= 8:
        _check_tensor_header(blob, json_limits)
    return doc, blob


def _check_tensor_header(blob: bytes, limits: JsonLimits) -> None:
    """The safetensors header of ``blob`` (its length, then JSON: one object per tensor)
    within ``limits``. A blob too short for one is safetensors' to refuse."""
    (size,) = struct.unpack_from("<Q", blob)
    hint = "tensors of no use to the check?"
    if size > limits.max_bytes:
        raise JsonTooLarge(f"a tensor header of {size:,} bytes", f"{limits.max_bytes:,} bytes", hint)
    tensors = blob[8 : 8 + size].count(b"{")
    if tensors > limits.max_containers:
        raise JsonTooLarge(f"{tensors:,} tensors", f"{limits.max_containers:,}", hint)


# --------------------------------------------------------------------------- values


_PLAIN_TYPES = frozenset((int, str, bool, type(None)))


def _plain_key(key: Any) -> bool:
    """A dict key the grader can send back as it came: None, bool, int, float, str, a dtype,
    or a tuple of such."""
    import torch

    if key is None or type(key) in (bool, int, float, str) or isinstance(key, torch.dtype):
        return True
    return type(key) is tuple and all(_plain_key(k) for k in key)


def plain_items(values) -> bool:
    """Whether every item of ``values`` crosses as it is (an int, str, bool or None: token
    ids, tags, word ids), so the sequence needs one pass instead of a call per item."""
    return all(t in _PLAIN_TYPES for t in map(type, values))


class Encoder:
    """Turns a value into (JSON tree, tensors); objects that are not data become handles.

    ``make_handle`` is called for each such object and returns its Handle; on the trusted
    side it is None (the grader only ever sends data and handles it already holds).
    """

    def __init__(self, make_handle: Callable[[Any], Handle] | None = None):
        self.tensors: dict[str, Any] = {}
        self._make_handle = make_handle

    def encode(self, value: Any) -> Any:
        import torch

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int, bool):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, Handle):
            return {"__handle__": value.id, "type": value.type_name}
        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        if isinstance(value, KeepLayout) and isinstance(value.tensor, torch.Tensor):
            return self._tensor(value.tensor, keep_layout=True)
        if isinstance(value, torch.dtype):
            return {"__dtype__": str(value).removeprefix("torch.")}
        if type(value) in (tuple, torch.Size, list):
            items = list(value) if plain_items(value) else [self.encode(v) for v in value]
            return items if type(value) is list else {"__tuple__": items}
        if isinstance(value, dict) and type(value).__name__ in ("dict", "OrderedDict"):
            if all(type(k) is str and k not in _TAGS for k in value):
                return {k: self.encode(v) for k, v in value.items()}
            return {"__dict__": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if type(value) in (float, int) or _is_numpy_scalar(value):
            return self.encode(value.item())
        if self._make_handle is None:
            raise TypeError(f"cannot send a value of type {type(value).__name__}")
        return self.encode(self._make_handle(value))

    def _tensor(self, value: Any, keep_layout: bool = False) -> dict:
        import torch

        if value.device.type == "meta":
            # No data to send: say so, rather than torch's NotImplementedError, which
            # would read as "not implemented yet".
            raise TypeError("the result is a tensor on the 'meta' device, which holds no values: return a real tensor")
        # Strip any subclass without running its Python overrides: only the storage
        # crosses, as a plain tensor.
        with torch._C.DisableTorchFunction():
            plain = torch.Tensor._make_subclass(torch.Tensor, value.detach())
            meta = {
                "requires_grad": bool(value.requires_grad),
                "device": str(value.device.type),
            }
            layout = None
            if keep_layout and plain.numel() and not plain.is_contiguous():
                # The storage the view reaches, from its first element to its last, as a
                # flat contiguous tensor; the view is rebuilt on it at offset 0.
                stride = plain.stride()
                span = 1 + sum((n - 1) * st for n, st in zip(plain.shape, stride))
                layout = {"shape": list(plain.shape), "stride": list(stride)}
                plain = plain.as_strided((span,), (1,), plain.storage_offset())
            plain = plain.to("cpu").contiguous().clone()
        key = f"t{len(self.tensors)}"
        self.tensors[key] = plain
        if layout is not None:
            meta["layout"] = layout
        return {"__tensor__": key, **meta}

    def blob(self) -> bytes:
        if not self.tensors:
            return b""
        # The tensors are plain, contiguous CPU copies: safetensors' numpy writer gives the
        # same bytes as its torch writer in a quarter of the time (no shared-storage
        # analysis), except for dtypes numpy lacks (bfloat16, float8), which torch's writes.
        try:
            arrays = {key: tensor.numpy() for key, tensor in self.tensors.items()}
        except TypeError:
            from safetensors.torch import save

            return save(self.tensors)
        from safetensors.numpy import save

        return save(arrays)


def _is_numpy_scalar(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0


class Decoder:
    """Rebuilds a value from (JSON tree, blob). Tensors come out as plain torch.Tensor."""

    def __init__(self, blob: bytes, resolve_handle: Callable[[Handle], Any], dtypes: frozenset | None = None,
                 layouts: bool = False):  # fmt: skip
        """``dtypes``: the tensor dtypes accepted (None: any); a reply of a student's worker
        is held to those the checks can compute with (UnsupportedDtype otherwise).

        ``layouts``: rebuild KeepLayout views. Only a worker reading the grader's requests
        does: a view may show its storage many times over (a stride of 0), so a reply that
        asked for one could make the grader hold any number of elements for a few bytes."""
        self._dtypes = dtypes
        self._layouts = layouts
        self._tensors: dict[str, Any] = {}
        if blob:
            from safetensors.torch import load

            try:
                self._tensors = load(blob)
            except Exception as exc:  # safetensors raises its own error types
                raise ProtocolError(f"tensor payload is not valid safetensors: {exc}") from None
        self._resolve = resolve_handle

    def decode(self, tree: Any) -> Any:
        if tree is None or isinstance(tree, (bool, int, float, str)):
            return tree
        if isinstance(tree, list):
            return [self.decode(v) for v in tree]
        if not isinstance(tree, dict):
            raise ProtocolError(f"unexpected JSON value {tree!r:.80}")
        if "__tensor__" in tree:
            return self._tensor(tree)
        if "__tuple__" in tree:
            return tuple(self.decode(v) for v in _list(tree["__tuple__"]))
        if "__dtype__" in tree:
            import torch

            dtype = getattr(torch, str(tree["__dtype__"]), None)
            if not isinstance(dtype, torch.dtype):
                raise ProtocolError(f"unknown dtype {tree['__dtype__']!r}")
            return dtype
        if "__float__" in tree:
            if tree["__float__"] not in ("nan", "inf", "-inf"):
                raise ProtocolError(f"bad float {tree['__float__']!r}")
            return float(tree["__float__"])
        if "__dict__" in tree:
            out = {}
            for pair in _list(tree["__dict__"]):
                key, value = _list(pair)
                key = self.decode(key)
                if not _plain_key(key):
                    # Data only (str, int, ..., tuples of them): a handle as a key would come back
                    # through the checks as an argument the grader cannot send.
                    raise ProtocolError(f"a dict key of type {type(key).__name__}, where only plain values may be keys")
                out[key] = self.decode(value)
            return out
        if "__handle__" in tree:
            return self._resolve(Handle(str(tree["__handle__"]), str(tree.get("type", "object"))))
        return {str(k): self.decode(v) for k, v in tree.items()}

    def _tensor(self, tree: dict) -> Any:
        key = tree["__tensor__"]
        if key not in self._tensors:
            raise ProtocolError(f"tensor {key!r} missing from payload")
        tensor = self._tensors[key]
        if self._dtypes is not None and tensor.dtype not in self._dtypes:
            raise UnsupportedDtype(tensor.dtype)
        if "layout" in tree:
            if not self._layouts:
                raise ProtocolError("a tensor with a layout, which only the grader's requests carry")
            tensor = _strided(tensor, tree["layout"])
        device = tree.get("device", "cpu")
        if device != "cpu":
            if device not in ("cuda", "mps") or not _available(device):
                raise ProtocolError(f"a tensor on device {device!r:.40}, which this machine does not have")
            tensor = tensor.to(device)
        if tree.get("requires_grad") and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor


class UnsupportedDtype(ProtocolError):
    """A tensor of a dtype the checks cannot compute with (float8, uint16, ...)."""

    def __init__(self, dtype: Any):
        super().__init__(f"a tensor of dtype {str(dtype).removeprefix('torch.')}")
        self.dtype = dtype


@functools.cache
def computable_dtypes() -> frozenset:
    """The dtypes a check can compare, order, promote and test for NaN: what a submission's
    tensors may be (no exercise returns complex numbers, which have no order; torch's float8
    and wide unsigned types support too few operations)."""
    import torch

    return frozenset((torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool, torch.uint8,
                      torch.int8, torch.int16, torch.int32, torch.int64))


def _available(device: str) -> bool:
    import torch

    backend = getattr(torch, device, None) if device == "cuda" else getattr(torch.backends, device, None)
    return bool(backend is not None and backend.is_available())


def _strided(flat: Any, layout: Any) -> Any:
    """The view ``layout`` describes on the flat storage ``flat``; ProtocolError unless
    it stays inside that storage."""
    import torch

    if not isinstance(layout, dict):
        raise ProtocolError("a tensor layout should be a JSON object")
    shape, stride = _list(layout.get("shape")), _list(layout.get("stride"))
    if (len(shape) != len(stride) or len(shape) > 64
            or not all(type(v) is int and 0 <= v < 2**62 for v in (*shape, *stride))):
        raise ProtocolError(f"bad tensor layout {layout!r:.120}")
    if flat.dim() != 1:
        raise ProtocolError("a tensor with a layout should arrive as flat storage")
    reach = sum((n - 1) * st for n, st in zip(shape, stride)) if all(shape) else -1
    if reach >= flat.numel():
        raise ProtocolError(f"tensor layout {layout!r:.120} reaches past its {flat.numel()} elements of storage")
    if not all(shape):
        return torch.empty(shape, dtype=flat.dtype)
    return torch.as_strided(flat, tuple(shape), tuple(stride), 0)


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise ProtocolError(f"expected a JSON list, got {type(value).__name__}")
    return value
