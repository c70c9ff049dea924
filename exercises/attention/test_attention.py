"""Checks for exercise 2 (attention). Run with ``grade exercise attention``."""

import pytest
import torch

from exercises.attention import load_weights
from grader.compare import (CheckFailure, describe_difference, expect, expect_close, expect_computed, expect_equal_tensors,
                            expect_finite, expect_own_precision, expect_tensor, first_of, output_dtypes, repeat_hint)
from grader.remote import LazyMistakes, call_with_inputs, vjp

# MultiHeadAttention is checked with head sizes hs where sqrt(d_model), d_k = hs and
# sqrt(hs) all differ (not (16, 4): sqrt(16) == 4 == hs), so that each wrong scale is told
# apart from the others.

# (q shape, k shape, v shape): no batch dims; T_q != T_k with d_v != d_k; (B, nh, T, hs)
SHAPES = [
    ((5, 8), (5, 8), (5, 8)),
    ((2, 4, 8), (2, 6, 8), (2, 6, 3)),
    ((2, 3, 4, 16), (2, 3, 7, 16), (2, 3, 7, 5)),
]
MHA_PARAMS = {"c_attn.weight": "(3C, C)", "c_attn.bias": "(3C,)", "c_proj.weight": "(C, C)", "c_proj.bias": "(C,)"}

# ----------------------------------------------------------------------------- helpers


def qkv(shapes, generator, device, dtype=torch.float32, scale=1.5):
    """Random q, k, v of the given shapes (scaled so the attention is not near-uniform)."""
    return [(torch.randn(s, generator=generator, dtype=torch.float64) * scale).to(dtype).to(device) for s in shapes]


def random_mask(shape, generator, device):
    """A boolean mask in which every query row has at least one True and one False."""
    mask = torch.rand(shape, generator=generator) < 0.6
    t_k = shape[-1]
    first = torch.randint(0, t_k, shape[:-1], generator=generator)
    other = (first + torch.randint(1, t_k, shape[:-1], generator=generator)) % t_k
    mask.scatter_(-1, first.unsqueeze(-1), True)
    mask.scatter_(-1, other.unsqueeze(-1), False)
    return mask.to(device)


def padding_mask(lengths, t, device):
    """(B, 1, 1, T): key j of sequence b is real (True) when j < lengths[b]."""
    return (torch.arange(t).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)).view(len(lengths), 1, 1, t).to(device)


def pair(result, what):
    """The (output, weights) a call returned, or a failure saying what came back instead."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        kind = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise CheckFailure(f"{what} should return a pair (output, weights), got {kind}")
    return result


def part(mistakes, index):
    """One element of each mistake's (output, weights); lazy, like ``mistakes`` itself, so
    the variants run only when a comparison fails."""
    return LazyMistakes(
        lambda: {name: out[index] for name, out in mistakes.items() if isinstance(out, (tuple, list)) and len(out) == 2}
    )


def check_attention(student, reference, what, q, k, v, mask=None):
    """Compare output and weights with the reference; name a known mistake if one matches."""
    got_out, got_w = pair(student.scaled_dot_product_attention(q, k, v, mask), what)
    want_out, want_w = reference.scaled_dot_product_attention(q, k, v, mask)
    mistakes = reference.diagnose(lambda ns: ns.scaled_dot_product_attention(q, k, v, mask))
    if (type(got_out) is torch.Tensor and type(got_w) is torch.Tensor and got_out.shape == want_w.shape
            and got_w.shape == want_out.shape and describe_difference(got_out, want_w) is None
            and describe_difference(got_w, want_out) is None and describe_difference(got_out, want_out) is not None):
        raise CheckFailure(f"{what} returned (weights, output): return them in the order (output, weights)")
    again = lambda: pair(student.scaled_dot_product_attention(q, k, v, mask), what)[1]  # noqa: E731
    expect_close(got_w, want_w, f"the weight matrix of {what}", mistakes=part(mistakes, 1), hint=repeat_hint(again, got_w))
    expect_close(got_out, want_out, f"the output of {what}", mistakes=part(mistakes, 0))
    return got_out, got_w


def describe(q, k, v, mask=None):
    text = f"attention(q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    return text + (f", mask {tuple(mask.shape)})" if mask is not None else ")")


def reference_weights(reference, seed, d_model, n_heads):
    """A state_dict from the reference module, built from a fixed seed."""
    reference.seed(seed)
    return reference.MultiHeadAttention(d_model, n_heads).state_dict()


def build(ns, state_dict, d_model, n_heads, causal, device, dtype=None):
    """ns.MultiHeadAttention with the given weights, on the check's device."""
    module = ns.MultiHeadAttention(d_model, n_heads, causal=causal)
    load_weights(ns, module, state_dict, f"MultiHeadAttention({d_model}, {n_heads})")
    if dtype is not None:
        module.to(dtype)
    if device.type != "cpu":
        module.to(str(device))
    return module


# The checks never call .eval(): the handout's MultiHeadAttention has no dropout at all.
NO_DROPOUT = "MultiHeadAttention must give the same output for the same input (the handout asks for no dropout)"


def check_module(student, reference, sd, what, x, n_heads, causal, device, mask=None):
    """Student and reference modules with the same weights must give the same output."""
    d_model = x.shape[-1]
    module = build(student, sd, d_model, n_heads, causal, device)
    got = module(x, mask)
    want = build(reference, sd, d_model, n_heads, causal, device)(x, mask)
    mistakes = reference.diagnose(lambda ns: build(ns, sd, d_model, n_heads, causal, device)(x, mask))
    return expect_close(got, want, what, mistakes=mistakes, hint=repeat_hint(lambda: module(x, mask), got, why=NO_DROPOUT))


def expect_uses_queries(student, sd, x, n_heads, causal, device, out, what):
    """A property of a module's output counts only if the output is computed with
    attention that depends on q and k: scaling the query projection must change it (a
    uniform or constant attention gives the same output whatever the queries)."""
    C = x.shape[-1]
    scaled = dict(sd)
    scaled["c_attn.weight"] = torch.cat([sd["c_attn.weight"][:C] * 3, sd["c_attn.weight"][C:]])
    scaled["c_attn.bias"] = torch.cat([sd["c_attn.bias"][:C] * 3, sd["c_attn.bias"][C:]])
    other = expect_finite(build(student, scaled, C, n_heads, causal, device)(x), what)
    expect(other.shape == out.shape and not torch.allclose(other.to(out.dtype), out),
           f"{what} stays the same when the query projection is scaled by 3: the attention weights do not depend "
           "on q and k, so this check's property earns nothing")


# ----------------------------------------------------------------------------- scaled_dot_product_attention


@pytest.mark.points(3)
def test_values_match_reference(student, reference, generator, device):
    for shapes in SHAPES:
        q, k, v = qkv(shapes, generator, device)
        check_attention(student, reference, describe(q, k, v), q, k, v)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=["float64", "float16"])
def test_dtypes_preserved(student, reference, generator, device, dtype):
    # The one check that asks for the dtype: elsewhere values are compared after a cast to
    # a common dtype, so a dtype slip costs these points only.
    q, k, v = qkv(SHAPES[1], generator, device, dtype=dtype)
    what = f"{describe(q, k, v)} in {str(dtype)[6:]}"
    out, weights = pair(student.scaled_dot_product_attention(q, k, v), what)
    expect_tensor(weights, f"the weight matrix of {what}", dtype=dtype)
    expect_tensor(out, f"the output of {what}", dtype=dtype)
    # The right dtype, computed in a lower one and cast back: say so, since the largest
    # error alone (3e-08 in float64) does not tell a student what to look for.
    want_out, want_weights = reference.scaled_dot_product_attention(q, k, v)
    for got, want, name in ((weights, want_weights, "weight matrix"), (out, want_out, "output")):
        expect_own_precision(got, want, f"the {name} of {what}", "q, k and v")
    check_attention(student, reference, what, q, k, v)


@pytest.mark.points(1)
def test_weights_rows_sum_to_one(student, reference, generator, device):
    q, k, v = qkv(SHAPES[2], generator, device)
    mask = random_mask((2, 1, 4, 7), generator, device)
    for m in (None, mask):
        what = describe(q, k, v, m)
        _, weights = pair(student.scaled_dot_product_attention(q, k, v, m), what)
        weights = expect_finite(weights, f"the weight matrix of {what}")
        # The property counts only for weights computed from q and k (uniform ones have it).
        expect_computed(weights, reference.scaled_dot_product_attention(q, k, v, m)[1], f"the weight matrix of {what}")
        expect(weights.shape == (2, 3, 4, 7), f"the weights of {what} have shape {tuple(weights.shape)}, expected (2, 3, 4, 7)")
        worst = (weights.sum(dim=-1) - 1).abs().max().item()
        expect(worst < 1e-5, f"each row of the weights of {what} should sum to 1 over the keys; a row is off by {worst:.3g}")
        expect(bool((weights >= 0).all()), f"the weights of {what} have negative entries")


@pytest.mark.points(2)
def test_masks_match_reference(student, reference, generator, device):
    q, k, v = qkv(SHAPES[1], generator, device)  # (2, 4, 8), (2, 6, 8), (2, 6, 3)
    for mask in (random_mask((4, 6), generator, device), random_mask((2, 4, 6), generator, device)):
        check_attention(student, reference, describe(q, k, v, mask), q, k, v, mask)
    q, k, v = qkv(SHAPES[2], generator, device)  # (B, nh, T_q, hs) with T_q=4, T_k=7
    for mask in (random_mask((2, 1, 4, 7), generator, device), padding_mask([7, 3], 7, device)):
        check_attention(student, reference, describe(q, k, v, mask), q, k, v, mask)


@pytest.mark.points(2)
def test_masked_keys_are_ignored(student, reference, generator, device):
    q, k, v = qkv(SHAPES[2], generator, device)
    mask = padding_mask([5, 3], 7, device)  # keys 5.. and 3.. are padding
    what = describe(q, k, v, mask)
    out, weights = pair(student.scaled_dot_product_attention(q, k, v, mask), what)
    weights = expect_finite(weights, f"the weight matrix of {what}")
    expect(weights.shape == (2, 3, 4, 7), f"the weights of {what} have shape {tuple(weights.shape)}, expected (2, 3, 4, 7)")
    # Only for weights computed from q and k: uniform weights over the allowed keys ignore
    # masked keys too. (Masked entries, 0 in the reference, do not count in the comparison.)
    expect_computed(weights, reference.scaled_dot_product_attention(q, k, v, mask)[1], f"the weight matrix of {what}")
    leak = weights.masked_select(~mask.expand_as(weights)).abs().max().item()
    expect(leak == 0, f"the weights of {what} should be exactly 0 where the mask is False; found {leak:.3g}. "
                      "True means 'may attend': fill the masked scores with -inf before the softmax")
    # Garbage in the masked keys and values must not reach the output.
    hidden = ~mask[:, :, 0, :].unsqueeze(-1)  # (B, 1, T_k, 1)
    k2 = torch.where(hidden, k * 100 + 7, k)
    v2 = torch.where(hidden, v * 100 - 7, v)
    mistakes = reference.diagnose(lambda ns: ns.scaled_dot_product_attention(q, k2, v2, mask))
    out2, _ = pair(student.scaled_dot_product_attention(q, k2, v2, mask), what)
    expect_close(out2, expect_finite(out, f"the output of {what}"),
                 f"the output of {what} after changing only masked keys and values",
                 mistakes=part(mistakes, 0), hint="Masked keys must not influence the result at all",
                 against="the output before the change")


@pytest.mark.points(1)
def test_query_with_no_key_gets_zeros(student, reference, generator, device):
    q, k, v = qkv(SHAPES[1], generator, device)
    mask = random_mask((2, 4, 6), generator, device)
    mask[1, 2] = False  # query 2 of batch element 1 may attend to no key
    out, weights = check_attention(student, reference, describe(q, k, v, mask) + " where one query may attend to no key", q, k, v, mask)
    expect(bool((weights[1, 2] == 0).all() and (out[1, 2] == 0).all()),
           "a query that may attend to no key should get zero weights and a zero output")


@pytest.mark.points(2)
def test_gradients_match_reference(student, reference, generator, device):
    q, k, v = (t.requires_grad_() for t in qkv(SHAPES[2], generator, device, dtype=torch.float64))
    mask = random_mask((2, 1, 4, 7), generator, device)
    g = torch.randn(2, 3, 4, 5, generator=generator, dtype=torch.float64).to(device)
    got = vjp(student.scaled_dot_product_attention, q, k, v, mask, grad_output=g, output_index=0)
    want = vjp(reference.scaled_dot_product_attention, q, k, v, mask, grad_output=g, output_index=0)
    mistakes = reference.diagnose(
        lambda ns: vjp(ns.scaled_dot_product_attention, q, k, v, mask, grad_output=g, output_index=0).input_grads
    )
    expect(len(got.input_grads) == 3, "gradients should reach q, k and v")
    # Weights computed in a lower precision are the dtype check's to report (one mistake,
    # one deduction): the gradients are held to the tolerance of the least precise dtype
    # the call returned or computed in (float64 weights from a float32 softmax, cast back).
    precision = output_dtypes(got.output, want.output)
    for i, (name, got_grad, want_grad) in enumerate(zip("qkv", got.input_grads, want.input_grads)):
        expect(got_grad is not None, f"no gradient reached {name}: the autograd graph was cut")
        expect_close(got_grad, want_grad, f"the gradient of the output with respect to {name}", precision=precision,
                     mistakes=LazyMistakes(lambda i=i: {n: grads[i] for n, grads in mistakes.items() if len(grads) == 3}))


@pytest.mark.points(1)
def test_inputs_not_modified(student, reference, generator, device):
    q, k, v = qkv(SHAPES[1], generator, device)
    mask = random_mask((2, 4, 6), generator, device)
    # The worker works on its own copies: ask for them back after the call.
    call = call_with_inputs(student.scaled_dot_product_attention, q, k, v, mask)
    _, weights = pair(call.output, describe(q, k, v, mask))
    # Only for weights computed from q and k: a constant output leaves its inputs alone too.
    expect_computed(weights, reference.scaled_dot_product_attention(q, k, v, mask)[1],
                    f"the weight matrix of {describe(q, k, v, mask)}")
    for name, got, original in zip(("q", "k", "v", "mask"), call.args, (q, k, v, mask)):
        expect_equal_tensors(got, original, f"the input {name} (attention modified it in place: write to a new tensor)")


# ----------------------------------------------------------------------------- MultiHeadAttention


@pytest.mark.points(1)
def test_mha_parameter_names_and_shapes(student):
    d_model, n_heads = 32, 4
    sd = student.MultiHeadAttention(d_model, n_heads).state_dict()
    expect(isinstance(sd, dict), f"state_dict() should be a dict of tensors, got {type(sd).__name__}")
    missing = sorted(set(MHA_PARAMS) - set(sd))
    extra = sorted(set(sd) - set(MHA_PARAMS))
    expect(not missing and not extra,
           f"MultiHeadAttention's state_dict should hold exactly {', '.join(MHA_PARAMS)} (GPT-2's names); "
           + "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                   f"unexpected {', '.join(extra)}" if extra else "") if p))
    expected = {"c_attn.weight": (3 * d_model, d_model), "c_attn.bias": (3 * d_model,),
                "c_proj.weight": (d_model, d_model), "c_proj.bias": (d_model,)}
    for name, shape in expected.items():
        got = tuple(sd[name].shape) if isinstance(sd[name], torch.Tensor) else None
        expect(got == shape, f"{name} has shape {got}, expected {MHA_PARAMS[name]} = {shape} for d_model={d_model}")


@pytest.mark.points(3)
def test_mha_output_matches_reference(student, reference, generator, device, seed):
    for B, T, C, nh in [(2, 5, 32, 4), (3, 7, 24, 3)]:
        sd = reference_weights(reference, seed, C, nh)
        x = (torch.randn(B, T, C, generator=generator) * 2).to(device)
        check_module(student, reference, sd, f"MultiHeadAttention({C}, {nh})(x of shape {(B, T, C)})", x, nh, False, device)


@pytest.mark.points(2)
def test_mha_causal_matches_reference(student, reference, generator, device, seed):
    for B, T, C, nh in [(2, 7, 24, 3)]:
        sd = reference_weights(reference, seed, C, nh)
        x = (torch.randn(B, T, C, generator=generator) * 2).to(device)
        check_module(student, reference, sd, f"MultiHeadAttention({C}, {nh}, causal=True)(x of shape {(B, T, C)})",
                     x, nh, True, device)


@pytest.mark.points(2)
def test_mha_causal_ignores_later_tokens(student, reference, generator, device, seed):
    B, T, C, nh, t = 2, 8, 32, 4, 4
    sd = reference_weights(reference, seed, C, nh)
    module = build(student, sd, C, nh, True, device)
    x = (torch.randn(B, T, C, generator=generator) * 2).to(device)
    later = x.clone()
    later[:, t + 1:] = (torch.randn(B, T - t - 1, C, generator=generator) * 2).to(device)
    before = expect_finite(module(x), "the causal output")
    # The property counts only for an output computed with attention that depends on q and k.
    expect_uses_queries(student, sd, x, nh, True, device, before, "the causal output")
    after = expect_finite(module(later), "the causal output")
    for out in (before, after):
        expect(out.shape == (B, T, C), f"the causal output has shape {tuple(out.shape)}, expected {(B, T, C)}")
    mistakes = reference.diagnose(lambda ns: build(ns, sd, C, nh, True, device)(later)[:, : t + 1])
    expect_close(after[:, : t + 1], before[:, : t + 1],
                 f"the causal output at positions 0..{t} after changing only tokens {t + 1}..{T - 1}",
                 mistakes=mistakes, against="the output before the change",
                 hint=first_of(repeat_hint(lambda: module(later), after, why=NO_DROPOUT),
                               "With causal=True, position t may attend only to positions 0..t"))


@pytest.mark.points(1)
def test_mha_batch_elements_independent(student, reference, generator, device, seed):
    B, T, C, nh = 4, 5, 32, 4
    sd = reference_weights(reference, seed, C, nh)
    module = build(student, sd, C, nh, False, device)
    x = (torch.randn(B, T, C, generator=generator) * 2).to(device)
    full = expect_finite(module(x), f"MultiHeadAttention output for a batch of {B}")
    expect_uses_queries(student, sd, x, nh, False, device, full, f"MultiHeadAttention output for a batch of {B}")
    single = expect_finite(module(x[2:3].clone()), "MultiHeadAttention output for one sequence")
    expect_close(single, full[2:3], "the output for sequence 2 alone",
                 hint=first_of(repeat_hint(lambda: module(x), full, why=NO_DROPOUT),
                               "Batch elements must not mix: check the reshapes around the heads"),
                 against="its output as part of the whole batch")


@pytest.mark.points(2)
def test_mha_padding_mask(student, reference, generator, device, seed):
    B, T, C, nh = 3, 6, 32, 4
    lengths = [6, 4, 2]
    sd = reference_weights(reference, seed, C, nh)
    x = (torch.randn(B, T, C, generator=generator) * 2).to(device)
    mask = padding_mask(lengths, T, device)  # (B, 1, 1, T)
    for causal in (False, True):
        what = f"MultiHeadAttention({C}, {nh}, causal={causal})(x, mask of shape {tuple(mask.shape)})"
        out = check_module(student, reference, sd, what, x, nh, causal, device, mask)
        # Changing the padded tokens must not change the output at real positions.
        padded = torch.arange(T).unsqueeze(0).to(device) >= torch.tensor(lengths).unsqueeze(1).to(device)  # (B, T)
        x2 = torch.where(padded.unsqueeze(-1), x * 5 + 3, x)
        out2 = expect_finite(build(student, sd, C, nh, causal, device)(x2, mask), what)
        expect(out2.shape == (B, T, C), f"{what} has shape {tuple(out2.shape)}, expected {(B, T, C)}")
        real = ~padded
        expect_close(out2[real], out[real], f"{what} at real positions after changing only padded tokens",
                     hint="Padded keys must get zero weight", against="the output before the change")


@pytest.mark.points(2)
def test_mha_gradients_match_reference(student, reference, generator, device, seed):
    B, T, C, nh = 2, 5, 32, 4
    sd = reference_weights(reference, seed, C, nh)
    x = (torch.randn(B, T, C, generator=generator, dtype=torch.float64) * 2).to(device).requires_grad_()
    g = torch.randn(B, T, C, generator=generator, dtype=torch.float64).to(device)
    # Held to float32's tolerance: weights computed in float32 inside a float64 module are
    # the dtype check's to report (one mistake, one deduction), and every known mistake
    # is off by far more.
    precision = (torch.float32,)
    got = vjp(build(student, sd, C, nh, True, device, torch.float64), x, grad_output=g)
    want = vjp(build(reference, sd, C, nh, True, device, torch.float64), x, grad_output=g)
    mistakes = reference.diagnose(
        lambda ns: vjp(build(ns, sd, C, nh, True, device, torch.float64), x, grad_output=g).input_grads[0]
    )
    expect(got.input_grads and got.input_grads[0] is not None, "no gradient reached the input x: the autograd graph was cut")
    expect_close(got.input_grads[0], want.input_grads[0], "the gradient with respect to the input x", mistakes=mistakes,
                 precision=precision)
    for name, want_grad in want.param_grads.items():
        got_grad = got.param_grads.get(name)
        expect(got_grad is not None, f"no gradient reached the parameter {name}")
        expect_close(got_grad, want_grad, f"the gradient with respect to {name}", precision=precision)
