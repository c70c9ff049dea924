"""Submissions whose outputs are wrong in kind rather than in value: a wrong shape, dtype
or device, NaN/inf, or not a tensor at all. Each is a correct submission with its
functions wrapped so that what they return is corrupted; ``write(exercise, kind, out_dir)``
writes one. ``tests/test_no_check_errors.py`` grades them: no check may ERROR."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"

# A correct submission per exercise, and what of it to corrupt: module-level functions
# ("name") and methods ("Class.method").
BASES = {
    "softmax": ("softmax/logsumexp.py", ["softmax"]),
    "attention": ("attention/einsum_head_loop.py", ["scaled_dot_product_attention", "MultiHeadAttention.forward"]),
    "decoder_block": ("decoder_block/manual_layernorm.py", ["DecoderBlock.forward"]),
    "ner_head": ("ner_head/functional.py",
                 ["TokenClassificationHead.forward", "ner_loss", "align_labels", "bio_to_spans", "train_head"]),
    "positional_encoding": ("positional_encoding/outer.py", ["sinusoidal_positional_encoding"]),
    "gpt2_loading": ("gpt2_loading/copy_loop.py", ["GPT.forward", "generate"]),
}

# kind -> (what a tensor ``t`` becomes, what any other value ``v`` becomes)
KINDS = {
    "flat": ("t.reshape(-1)", "v"),
    "transposed": ("t.transpose(0, -1) if t.dim() > 1 else t.unsqueeze(1)", "v"),
    "extra_dim": ("t.unsqueeze(0)", "[v]"),
    "int": ("(t * 7).long() if t.is_floating_point() else t.double()", "v"),
    "float16": ("t.half()", "v"),
    "none": ("None", "None"),
    "list": ("t.tolist()", "v"),
    "numpy": ("t.detach().cpu().numpy()", "_np.asarray(v, dtype=object)"),
    "string": ("'oops'", "'oops'"),
    "nan": ("_torch.full(t.shape, float('nan'))", "[float('nan')] * len(v) if isinstance(v, list) else float('nan')"),
    "inf": ("_torch.full(t.shape, float('inf'))", "v"),
    "meta": ("t.to('meta')", "v"),
}

WRAPPER = '''

# ---- corrupted on purpose (tests/bad_outputs.py, kind {kind!r}) ----
import functools as _functools
import numpy as _np
import torch as _torch


def _corrupt(out):
    if type(out) is tuple:
        return tuple(_corrupt(o) for o in out)
    if isinstance(out, _torch.Tensor):
        t = out
        return {tensor}
    v = out
    return {other}


def _wrapped(f):
    @_functools.wraps(f)
    def call(*args, **kwargs):
        return _corrupt(f(*args, **kwargs))
    return call

'''


def source(exercise: str, kind: str, targets: list[str] | None = None) -> str:
    base, default_targets = BASES[exercise]
    tensor, other = KINDS[kind]
    text = (SUBMISSIONS / base).read_text() + WRAPPER.format(kind=kind, tensor=tensor, other=other)
    for target in targets or default_targets:
        if "." in target:
            cls, method = target.split(".")
            text += f"{cls}.{method} = _wrapped({cls}.{method})\n"
        else:
            text += f"{target} = _wrapped({target})\n"
    return text


def write(exercise: str, kind: str, out_dir: Path, targets: list[str] | None = None) -> Path:
    """The submission to grade: a file, or for gpt2_loading a folder with the reference
    decoder_block.py beside it (what its ``from decoder_block import`` finds)."""
    suffix = "" if targets is None else "_" + "_".join(t.replace(".", "_") for t in targets)
    return as_submission(exercise, source(exercise, kind, targets), Path(out_dir) / f"{exercise}_{kind}{suffix}")


def as_submission(exercise: str, text: str, where: Path) -> Path:
    if exercise != "gpt2_loading":
        path = where.with_suffix(".py")
        path.write_text(text)
        return path
    where.mkdir(parents=True)
    (where / "gpt2_loading.py").write_text(text)
    (where / "decoder_block.py").write_text((ROOT / "solutions" / "decoder_block.py").read_text())
    return where


# A GPT-2 loader that fills the Conv1D weights with reshape instead of a transpose: the
# shapes fit, the layout is wrong (the non-square ones too).
UNTRANSPOSED_LOADER = ("gpt2_loading/copy_loop.py", [("sd[k].copy_(sd_hf[k].t())", "sd[k].copy_(sd_hf[k].reshape(sd[k].shape))")])
