"""Instructor-only checks for exercise 4 (decoder block); never shipped in a kit."""

import pytest
import torch

from grader.compare import expect, expect_close, expect_computed_update, expect_tensor
from grader.remote import fetch


def _weights(d: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    shapes = {
        "ln_1.weight": (d,), "ln_1.bias": (d,), "attn.c_attn.weight": (3 * d, d), "attn.c_attn.bias": (3 * d,),
        "attn.c_proj.weight": (d, d), "attn.c_proj.bias": (d,), "ln_2.weight": (d,), "ln_2.bias": (d,),
        "mlp.c_fc.weight": (4 * d, d), "mlp.c_fc.bias": (4 * d,), "mlp.c_proj.weight": (d, 4 * d),
        "mlp.c_proj.bias": (d,),
    }  # fmt: skip
    out = {}
    for name, shape in shapes.items():
        t = torch.randn(shape, generator=generator, dtype=torch.float64)
        out[name] = 1 + 0.2 * t if name.startswith("ln_") and name.endswith("weight") else t / shape[-1] ** 0.5
    return out


def _block(namespace, weights, d, h):
    block = namespace.DecoderBlock(d, h)
    block.to(torch.float64)
    loaded = block.load_state_dict(weights, strict=False)
    expect(not fetch(loaded.unexpected_keys), f"DecoderBlock({d}, {h}) lacks GPT-2's parameter names")
    block.eval()
    return block


@pytest.mark.hidden
@pytest.mark.points(1)
def test_hidden_head_counts(student, reference, generator):
    # One head, several, and many small ones (head size 4): the heads must be split
    # from c_attn's output and put back side by side in the same order as GPT-2.
    d = 48
    weights = _weights(d, generator)
    x = torch.randn(2, 9, d, generator=generator, dtype=torch.float64)
    for h in (1, 3, 12):
        expected = _block(reference, weights, d, h)(x)
        mistakes = reference.diagnose(lambda ns: _block(ns, weights, d, h)(x))
        expect_close(_block(student, weights, d, h)(x), expected, f"DecoderBlock({d}, {h})(x) in float64", mistakes=mistakes)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_hidden_batch_elements_independent(student, reference, generator):
    d, h = 32, 4
    weights = _weights(d, generator)
    block = _block(student, weights, d, h)
    x = torch.randn(4, 7, d, generator=generator, dtype=torch.float64)
    full = expect_tensor(block(x), f"DecoderBlock({d}, {h})(x)", shape=x.shape)
    expect_computed_update(full, _block(reference, weights, d, h)(x), x, f"DecoderBlock({d}, {h})(x)")
    single = expect_tensor(block(x[2:3].clone()), f"DecoderBlock({d}, {h})(x[2:3])", shape=(1, *x.shape[1:]))
    expect_close(single, full[2:3], "the block's output for batch element 2 alone",
                 hint="Batch elements must not mix (check the reshapes around the heads)",
                 against="its output within the batch")
