"""The worker: the only process in which submission (or reference) code runs.

A worker is forked from the zygote, hardens itself (student role), loads the module it
was given, says hello, then answers requests until the grader closes the socket. It
holds the objects the code builds in a table and hands back handles to them; only data
(JSON and safetensors) ever goes back over the socket.

Requests (JSON): ``{"op": ..., "rid": ..., "target": {"root": ..., "path": [...]}, ...}``

- ``call``  call the target with ``args``/``kwargs``; the result comes back as data or handles
- ``get``   read the target (an attribute) as data or a handle
- ``vjp``   call, then backpropagate ``grad_output``; return output, input and parameter grads
- ``seed``  seed torch's global generator

Replies: ``{"ok": value}`` or ``{"error": {"type", "message", "where"}}``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import itertools
import os
import socket
import sys
import traceback
import types
from typing import Any

from grader import notebooks, wire
from grader.boundary import MISTAKE_PREFIX, ROOT_MODULE, WorkerConfig
from grader.jail import JailUnavailable
from grader.rules import RuntimeGuard  # imported here so the zygote has it before any jail
from grader.sandbox import harden

class _SiblingFinder(importlib.abc.MetaPathFinder):
    """Lets one submitted module ``import`` another by its course name."""

    def __init__(self, files: dict[str, str]):
        self.files = files

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.files:
            return importlib.util.spec_from_file_location(fullname, self.files[fullname])
        return None


class _MistakeNamespace:
    """The solution module with some names replaced by a known-mistake variant."""

    def __init__(self, base: types.ModuleType, overrides: dict[str, Any]):
        self._base, self._overrides = base, overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._base, name)


def _where(filename: str, lineno: int | None, code: str) -> str:
    """``softmax.py, line 5: code``; for a module made from a notebook, the cell and the line
    in it (``softmax.ipynb, cell 4, line 3: code``), never a line of the generated file."""
    place = notebooks.cell_location(filename, lineno)
    if place is not None:
        notebook, cell, line = place
        return f"{notebook}, cell {cell}, line {line}: {code.strip()}"
    return f"{os.path.basename(filename)}, line {lineno}: {code.strip()}"


# What a notebook has that plain Python does not: graded code runs as a module.
JUPYTER_NAMES = ("display", "get_ipython", "In", "Out")


class MissingName(AttributeError):
    """The submitted module has no top-level ``name`` a check asked for (renamed, misspelt,
    or written in a notebook cell that is not graded): nothing raised."""

    def __init__(self, name: str, module: types.ModuleType, filenames: list[str]):
        defined = sorted(n for n, v in vars(module).items()
                         if not n.startswith("_") and isinstance(v, type | types.FunctionType)
                         and getattr(v, "__module__", None) == module.__name__)  # fmt: skip
        detail = f"it defines {', '.join(defined[:12])}" if defined else "it defines no function or class"
        hint = _name_hint(name, filenames).strip()
        super().__init__(f"{detail}; {hint[1:-1]}" if hint else detail)
        self.name = name


class UnusableOutput(TypeError):
    """What the submission returned cannot be backpropagated through: not a tensor, not the
    tuple the handout returns, another shape (the grader's own check of a vjp output, not
    an error the submission raised)."""


def _name_error_hint(exc: NameError, filenames: list[str]) -> str:
    return _name_hint(getattr(exc, "name", None), filenames)


def _name_hint(name: str | None, filenames: list[str]) -> str:
    """For a notebook graded on its tagged cells: the name lives in a cell that is not graded
    (or is Jupyter's own)."""
    if not name:
        return ""
    if name in JUPYTER_NAMES:
        return (f" ({name} is Jupyter's, not Python's: graded code runs as a plain Python module, where it does "
                "not exist; use print, or leave the call out of the graded code)")
    for filename in filenames:
        found = notebooks.defined_elsewhere(filename, name)
        if found is None:
            continue
        notebook, cell = found
        if cell is not None:
            return (
                f" ({name!r} is defined in cell {cell} of {notebook}, which is not graded: only the cell tagged "
                "for grading is; move what it needs (definitions, imports) into that cell)"
            )
        return " (only the cell tagged for grading is graded: names from the notebook's other cells do not exist there)"
    return ""


def describe_exception(exc: BaseException, files: set[str], main_file: str | None = None) -> dict:
    """Type, message and the last line of submitted code it passed through.

    ``main_file``: the module the exercise is about. A NotImplementedError raised in
    another submitted file (the decoder_block.py that gpt2_loading imports, still the stub)
    says so (``"stub"``: that file's name), rather than reading as the called function's."""
    where = ""
    where_file = None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.realpath(frame.filename) in files:
            where = _where(frame.filename, frame.lineno, frame.line or "")
            where_file = frame.filename
            break
    if isinstance(exc, SyntaxError) and exc.filename and not where:
        where = _where(exc.filename, exc.lineno, exc.text or "")
    if isinstance(exc, MissingName):
        return {"type": "AttributeError", "message": str(exc)[:2000], "where": "", "missing": exc.name}
    if isinstance(exc, UnusableOutput):
        return {"type": "TypeError", "message": str(exc), "where": "", "returned": "yes"}
    if isinstance(exc, SystemExit):
        message = f"called sys.exit({exc.code!r})"
    elif type(exc).__name__ == "OutOfMemoryError":  # torch's CUDA OOM (torch.cuda.OutOfMemoryError)
        message = (f"ran out of GPU memory: {str(exc).splitlines()[0][:300]} (each grading worker may use "
                   "a share of the GPU; the checks' tensors are small, so look for a tensor that grows "
                   "with a loop or an accidental (T, T, T) intermediate)")
        _free_gpu_cache()
    elif isinstance(exc, SyntaxError) and exc.msg:
        message = exc.msg  # its file and line are in ``where`` (a notebook's cell, not the module made of it)
    else:
        message = str(exc)
    if isinstance(exc, NameError):
        message += _name_error_hint(exc, ([where_file] if where_file else []) + sorted(files))
    if isinstance(exc, ModuleNotFoundError) and "not available to submissions" not in message:
        message += (" (graded code can import the packages installed for the course and the course modules its "
                    "handout names, nothing else; a notebook's !pip lines are not run)")
    doc = {"type": type(exc).__name__, "message": message[:2000], "where": where}
    if isinstance(exc, NotImplementedError) and not _raised_by_submitted_code(exc, files):
        # torch's "... not implemented for 'Long'": a call the library cannot do, not a stub.
        doc["library"] = "yes"
    elif isinstance(exc, NotImplementedError) and where_file:
        if main_file and os.path.realpath(where_file) != main_file:
            doc["stub"] = os.path.basename(where_file)
        doc["message"] += _written_elsewhere_hint(exc, where_file)
    return doc


def _written_elsewhere_hint(exc: NotImplementedError, filename: str) -> str:
    """For a notebook's stub still raising: the function is written in a cell not graded."""
    name = traceback.extract_tb(exc.__traceback__)[-1].name
    found = notebooks.defined_elsewhere(filename, name)
    if found is None or found[1] is None:
        return ""
    notebook, cell = found
    return (f"; {name} is written in cell {cell} of {notebook}, which is not graded: only the cell tagged for "
            "grading is, and it still holds the stub")


def _raised_by_submitted_code(exc: BaseException, files: set[str]) -> bool:
    """Whether a ``raise`` statement in a submitted file raised ``exc`` (a stub's raise
    NotImplementedError), rather than library code the submission called."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    return os.path.realpath(last.filename) in files and (last.line or "").lstrip().startswith("raise")


def _free_gpu_cache() -> None:
    """After an out-of-memory error the worker goes on answering: give back what torch cached."""
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass


class Worker:
    def __init__(self, sock: socket.socket, config: WorkerConfig):
        self.sock = sock
        self.config = config
        self.objects: dict[str, Any] = {}
        self.roots: dict[str, Any] = {}
        self.mistake_names: list[str] = []
        self.files = {os.path.realpath(p) for p in config.files.values()}
        main = config.files.get(config.main)
        self.main_file = os.path.realpath(main) if main else None
        self.guard = None  # grader.rules.RuntimeGuard, in a student worker with rules

    def guard_rules(self) -> None:
        """Before the submission loads: watch the forbidden callables (student role only)."""
        if self.config.role == "student" and self.config.forbidden:
            try:
                self.guard = RuntimeGuard(self.config.forbidden, self.config.files.values())
            except Exception:  # noqa: BLE001 - never the student's failure; the source check remains
                traceback.print_exc()

    def with_uses(self, reply: dict) -> dict:
        """``reply`` plus the forbidden calls made since the last reply, if any."""
        if self.guard is not None:
            uses = self.guard.drain()
            if uses:
                reply["forbidden"] = uses
        return reply

    # ------------------------------------------------------------------ loading

    def load(self) -> dict:
        cfg = self.config
        sys.meta_path.insert(0, _SiblingFinder(cfg.files))
        module = importlib.import_module(cfg.main)
        self.roots[ROOT_MODULE] = module
        if cfg.mistakes_file:
            spec = importlib.util.spec_from_file_location(f"{cfg.main}_mistakes", cfg.mistakes_file)
            mistakes = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mistakes)
            for name, overrides in getattr(mistakes, "MISTAKES", {}).items():
                self.roots[MISTAKE_PREFIX + name] = _MistakeNamespace(module, overrides)
                self.mistake_names.append(name)
        if self.guard is not None:
            # What the import itself called ran once, on no check's input (a notebook's cell
            # comparing with torch.softmax): only calls made while a check calls in count.
            self.guard.drain()
        return {"ready": True, "mistakes": self.mistake_names, "pid": os.getpid()}

    # ------------------------------------------------------------------ serving

    def resolve(self, target: dict) -> Any:
        root = target.get("root", ROOT_MODULE)
        if root in self.roots:
            obj = self.roots[root]
        elif root in self.objects:
            obj = self.objects[root]
        else:
            raise LookupError(f"unknown object {root!r} (from an earlier, restarted worker?)")
        path = target.get("path", [])
        if root == ROOT_MODULE and path and not hasattr(obj, path[0]):
            raise MissingName(str(path[0]), obj, sorted(self.files))
        for name in path:
            obj = getattr(obj, name)
        return obj

    def _make_handle(self, rid: str):
        # Handle ids derive from the request's key and the object's position in the
        # reply, never from a worker-wide counter: a replayed reference (student kit)
        # must see the same ids whatever other checks ran before.
        seq = itertools.count(1)

        def make(obj: Any) -> wire.Handle:
            hid = f"{rid}#{next(seq)}"
            self.objects[hid] = obj
            return wire.Handle(hid, type(obj).__name__)

        return make

    def decoder(self, blob: bytes) -> wire.Decoder:
        """One per request: its tensors are read from the blob once, whichever values use them."""
        return wire.Decoder(blob, lambda h: self.objects[h.id], layouts=True)

    def handle(self, doc: dict, blob: bytes) -> Any:
        import torch

        op = doc.get("op")
        if op == "seed":
            torch.manual_seed(int(doc["seed"]))
            return None
        target = self.resolve(doc.get("target", {}))
        if op == "get":
            return target
        decoder = self.decoder(blob)
        args = decoder.decode(doc.get("args")) or []
        kwargs = decoder.decode(doc.get("kwargs")) or {}
        if op == "call":
            output = target(*args, **kwargs)
            if doc.get("return_inputs"):
                # The arguments as the call left them: shows in-place modification.
                return {"output": output, "args": args, "kwargs": kwargs}
            return output
        if op == "vjp":
            return self._vjp(target, args, kwargs, decoder.decode(doc.get("grad_output")), doc)
        raise ValueError(f"unknown op {op!r}")

    def _vjp(self, target, args, kwargs, grad_output, doc) -> dict:
        import torch

        leaves = [a for a in _flatten((args, kwargs)) if isinstance(a, torch.Tensor) and a.requires_grad]
        module = getattr(target, "__self__", target)
        params = dict(module.named_parameters()) if isinstance(module, torch.nn.Module) else {}
        for p in params.values():
            p.grad = None
        output = target(*args, **kwargs)
        out = output
        index = doc.get("output_index")
        if index is not None:
            if not isinstance(output, (tuple, list)) or not -len(output) <= index < len(output):
                raise UnusableOutput(f"a {type(output).__name__}, where the gradient check takes element {index} of a "
                                 "tuple (the handout's return value)")  # fmt: skip
            out = output[index]
        if not isinstance(out, torch.Tensor):
            raise UnusableOutput(f"a {type(out).__name__}, not a tensor, so no gradient can flow back through it")
        if not out.requires_grad:
            raise RuntimeError("the output does not require grad: the autograd graph was cut (detach? no_grad? .data?)")
        if isinstance(grad_output, torch.Tensor) and out.shape != grad_output.shape:
            where = f"element {index} of its output" if index is not None else "an output"
            raise UnusableOutput(f"{where} of shape {tuple(out.shape)}, where the gradient check expects "
                             f"{tuple(grad_output.shape)}")  # fmt: skip
        try:
            out.backward(grad_output)
        except RuntimeError as exc:
            if "modified by an inplace operation" not in str(exc):
                raise
            # Raised inside autograd, far from the line that did it: say what happened in a
            # student's terms (torch's own text suggests anomaly detection, not theirs to run).
            raise RuntimeError(
                "backward failed: an in-place operation (e /= s, x[mask] = 0, x.add_(...)) changed a tensor autograd "
                "needs for the gradient; write it out of place (e = e / s, torch.where(mask, 0, x))"
            ) from None
        return {
            "output": output,
            "input_grads": [leaf.grad for leaf in leaves],
            "param_grads": {name: p.grad for name, p in params.items()},
        }

    def serve(self) -> None:
        while True:
            try:
                doc, blob = wire.recv_frame(self.sock)
            except (wire.ChannelClosed, ConnectionError):
                return
            rid = str(doc.get("rid", ""))
            encoder = wire.Encoder(self._make_handle(rid))
            try:
                value = self.handle(doc, blob)
                reply = {"ok": encoder.encode(value)}
            except BaseException as exc:  # noqa: BLE001 - SystemExit from student code too
                encoder = wire.Encoder()
                reply = {"error": describe_exception(exc, self.files, self.main_file)}
            try:
                wire.send_frame(self.sock, self.with_uses(reply), encoder.blob())
            except BaseException as exc:  # noqa: BLE001
                wire.send_frame(self.sock, self.with_uses({"error": describe_exception(exc, self.files, self.main_file)}))


def _flatten(value: Any):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    else:
        yield value


def _cap_gpu_memory(config: WorkerConfig) -> None:
    """Cap this worker's share of the GPU (Limits.gpu_memory_fraction), before submitted code
    runs. This is where CUDA is first initialised: in the worker, after the zygote's fork."""
    if not config.device.startswith("cuda") or not 0 < config.limits.gpu_memory_fraction < 1:
        return
    import torch

    torch.cuda.set_per_process_memory_fraction(config.limits.gpu_memory_fraction)


def run(sock: socket.socket, config: WorkerConfig) -> None:
    """Entry point in the forked child; never returns."""
    code = 0
    try:
        if config.role == "student":
            try:
                harden(
                    config.limits, config.log_path, set(config.block_packages), config.device,
                    config.jail, config.isolation,
                )  # fmt: skip
            except JailUnavailable as exc:
                # The grader's failure, not the student's.
                wire.send_frame(sock, {"started": False, "isolation_error": str(exc)})
                os._exit(0)
        # The first frame, sent before any submitted code runs, is the only one the grader
        # believes about the jail: the hello after the import is the submission's to forge.
        wire.send_frame(sock, {"started": True})
        import torch

        torch.set_num_threads(max(1, config.limits.threads))
        _cap_gpu_memory(config)
        worker = Worker(sock, config)
        try:
            worker.guard_rules()
            hello = worker.load()
        except BaseException as exc:  # noqa: BLE001 - the submission may do anything at import
            hello = {"ready": False, "error": describe_exception(exc, worker.files, worker.main_file)}
        wire.send_frame(sock, hello)
        if hello["ready"]:
            worker.serve()
    except BaseException as exc:  # noqa: BLE001 - the log is the only place left to say it
        code = 70
        try:
            traceback.print_exception(exc)
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)
