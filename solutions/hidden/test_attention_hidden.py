"""Instructor-only checks for exercise 2 (attention): larger shapes and determinism.

Never shipped in a student kit (``@pytest.mark.hidden``).
"""

import pytest
import torch

from exercises.attention import load_weights
from grader.compare import expect, expect_close, expect_finite


def _build(ns, sd, d_model, n_heads, causal, device):
    module = ns.MultiHeadAttention(d_model, n_heads, causal=causal)
    load_weights(ns, module, sd, f"MultiHeadAttention({d_model}, {n_heads})")
    if device.type != "cpu":
        module.to(str(device))
    return module


def _uses_queries(student, sd, x, n_heads, causal, device, out, what):
    """As the visible checks' expect_uses_queries: scaling the query projection must
    change the output, or the attention does not depend on q and k."""
    C = x.shape[-1]
    scaled = dict(sd)
    scaled["c_attn.weight"] = torch.cat([sd["c_attn.weight"][:C] * 3, sd["c_attn.weight"][C:]])
    scaled["c_attn.bias"] = torch.cat([sd["c_attn.bias"][:C] * 3, sd["c_attn.bias"][C:]])
    other = expect_finite(_build(student, scaled, C, n_heads, causal, device)(x), what)
    expect(other.shape == out.shape and not torch.allclose(other.to(out.dtype), out),
           f"{what} stays the same when the query projection is scaled by 3: the attention weights do not depend "
           "on q and k, so this check's property earns nothing")


@pytest.mark.hidden
@pytest.mark.points(2)
def test_large_shapes_match_reference(student, reference, generator, device, seed):
    # Longer sequences and more heads than the visible checks: index mix-ups that cancel
    # out for small, square shapes show up here.
    q = torch.randn(2, 4, 40, 16, generator=generator).to(device)
    k = torch.randn(2, 4, 56, 16, generator=generator).to(device)
    v = torch.randn(2, 4, 56, 24, generator=generator).to(device)
    mask = (torch.rand(2, 1, 40, 56, generator=generator) < 0.7).to(device)
    mask[..., 0] = True  # every query may attend to at least one key
    got = student.scaled_dot_product_attention(q, k, v, mask)
    expect(isinstance(got, (tuple, list)) and len(got) == 2, "scaled_dot_product_attention should return (output, weights)")
    want_out, want_w = reference.scaled_dot_product_attention(q, k, v, mask)
    mistakes = reference.diagnose(lambda ns: ns.scaled_dot_product_attention(q, k, v, mask))
    for i, what in ((1, "weight matrix"), (0, "output")):
        expect_close(got[i], (want_out, want_w)[i], f"the {what} for q (2, 4, 40, 16), k (2, 4, 56, 16), v (2, 4, 56, 24)",
                     mistakes={name: out[i] for name, out in mistakes.items() if len(out) == 2})

    B, T, C, nh = 2, 33, 64, 4
    reference.seed(seed)
    sd = reference.MultiHeadAttention(C, nh).state_dict()
    x = torch.randn(B, T, C, generator=generator).to(device)
    got = _build(student, sd, C, nh, True, device)(x)
    want = _build(reference, sd, C, nh, True, device)(x)
    mistakes = reference.diagnose(lambda ns: _build(ns, sd, C, nh, True, device)(x))
    expect_close(got, want, f"MultiHeadAttention({C}, {nh}, causal=True)(x of shape {(B, T, C)})", mistakes=mistakes)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_deterministic_in_training_mode(student, reference, generator, device, seed):
    # No dropout in this exercise: a module in training mode gives the same output twice.
    C, nh = 32, 4
    reference.seed(seed)
    sd = reference.MultiHeadAttention(C, nh).state_dict()
    module = _build(student, sd, C, nh, False, device)
    module.train()
    x = torch.randn(2, 6, C, generator=generator).to(device)
    first = expect_finite(module(x), "MultiHeadAttention output")
    # Only for an output computed with attention that depends on q and k.
    _uses_queries(student, sd, x, nh, False, device, first, "MultiHeadAttention output")
    second = expect_finite(module(x), "MultiHeadAttention output")
    expect(torch.equal(first, second), "MultiHeadAttention gave different outputs for the same input in training mode (dropout?)")
