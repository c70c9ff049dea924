"""Checks for exercise 4 (decoder block). Run with ``grade exercise decoder_block``.

Most checks load one set of random GPT-2-shaped weights into your block and into the
reference, then compare outputs (and gradients) computed with identical weights. The
LayerNorm weights are random too, so swapping ``ln_1`` and ``ln_2`` shows.
"""

from __future__ import annotations

import math

import pytest
import torch

from grader.compare import (CheckFailure, describe_difference, expect, expect_close, expect_computed_update,
                            expect_equal_tensors, expect_finite, expect_tensor, first_of, load_into,
                            repeat_hint)
from grader.remote import LazyMistakes, Remote, StudentError, call_with_inputs, fetch, vjp

D, H = 32, 4  # d_model, n_heads in most checks


def gpt2_block_shapes(d: int) -> dict[str, tuple[int, ...]]:
    """GPT-2's parameter names inside ``transformer.h.N.``, with nn.Linear's (out, in) weights."""
    return {
        "ln_1.weight": (d,),
        "ln_1.bias": (d,),
        "attn.c_attn.weight": (3 * d, d),
        "attn.c_attn.bias": (3 * d,),
        "attn.c_proj.weight": (d, d),
        "attn.c_proj.bias": (d,),
        "ln_2.weight": (d,),
        "ln_2.bias": (d,),
        "mlp.c_fc.weight": (4 * d, d),
        "mlp.c_fc.bias": (4 * d,),
        "mlp.c_proj.weight": (d, 4 * d),
        "mlp.c_proj.bias": (d,),
    }


def random_weights(d: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Weights for one block, scaled so attention is far from uniform and GELU sees both signs."""
    out = {}
    for name, shape in gpt2_block_shapes(d).items():
        t = torch.randn(shape, generator=generator, dtype=torch.float64)
        if name.startswith("ln_") and name.endswith("weight"):
            t = 1 + 0.2 * t
        elif name.endswith("bias"):
            t = 0.1 * t
        else:
            t = t / math.sqrt(shape[1])  # unit-variance outputs for unit-variance inputs
        out[name] = t.to(dtype)
    return out


def build(namespace, weights: dict[str, torch.Tensor], device: torch.device, *args, **kwargs) -> Remote:
    """``namespace.DecoderBlock(*args, **kwargs)`` holding ``weights``, in eval mode."""
    d, h = args[:2]
    block = namespace.DecoderBlock(*args, **kwargs)
    dtype = next(iter(weights.values())).dtype
    if dtype != torch.float32:
        block.to(dtype)
    if device.type != "cpu":
        block.to(device.type)
    loaded = load_into(block, weights, f"DecoderBlock({d}, {h})")
    if namespace._label != "student":
        # The reference and its mistake variants have exactly these keys; with dropout
        # 0 their training mode is deterministic. Fewer round trips keep checks fast.
        if kwargs.get("dropout"):
            block.eval()
        return block
    # Extra keys of the submission's own (a persistent mask buffer, say) are tolerated
    # here; the parameter-name check is where they cost a point.
    unexpected = fetch(loaded.unexpected_keys)
    if unexpected:
        extra = fetch(loaded.missing_keys)
        found = f"; it has {', '.join(extra[:6])}{', ...' if len(extra) > 6 else ''} instead" if extra else ""
        raise CheckFailure(
            f"DecoderBlock({d}, {h}) has no parameter named {unexpected[0]!r}, so GPT-2's weights cannot be loaded "
            f"into it{found} (see test_parameter_names_and_shapes)"
        )
    block.eval()
    return block


def _inputs(generator, device, *shape, dtype=torch.float32, scale=1.0) -> torch.Tensor:
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype).to(device)


@pytest.mark.points(2)
def test_parameter_names_and_shapes(student):
    for d, h in ((D, H), (48, 3)):
        expected = gpt2_block_shapes(d)
        state = student.DecoderBlock(d, h).state_dict()
        got = {k: tuple(v.shape) for k, v in state.items() if type(v) is torch.Tensor}
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        what = f"DecoderBlock({d}, {h}).state_dict()"
        if missing:
            instead = f" (it has {', '.join(extra[:6])})" if extra else ""
            raise CheckFailure(
                f"{what} has no key {missing[0]!r}{instead}: use GPT-2's names "
                "(ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj)"
            )
        if extra:
            raise CheckFailure(
                f"{what} has keys GPT-2's block does not: {', '.join(extra[:6])} "
                "(build the causal mask in forward, or register it with persistent=False)"
            )
        for key, shape in expected.items():
            expect(
                got[key] == shape,
                f"{what}[{key!r}] has shape {got[key]}, expected {shape}"
                + (": nn.Linear(in, out) stores its weight as (out, in)" if got[key] == shape[::-1] else ""),
            )


@pytest.mark.points(3)
def test_output_matches_reference(student, reference, generator, device):
    weights = random_weights(D, generator)
    x = _inputs(generator, device, 3, 11, D)
    expected = build(reference, weights, device, D, H)(x)
    mistakes = reference.diagnose(lambda ns: build(ns, weights, device, D, H)(x))
    block = build(student, weights, device, D, H)
    out = block(x)
    expect_close(out, expected, f"DecoderBlock({D}, {H})(x) for x of shape (3, 11, {D})", mistakes=mistakes,
                 hint=repeat_hint(lambda: block(x), out))


@pytest.mark.points(3)
def test_gradients_match_reference(student, reference, generator, device):
    # float64, so that any correct formulation agrees to ~1e-12 and tolerances are tight.
    weights = random_weights(D, generator, torch.float64)
    x = _inputs(generator, device, 2, 6, D, dtype=torch.float64).requires_grad_()
    g = _inputs(generator, device, 2, 6, D, dtype=torch.float64)
    want = vjp(build(reference, weights, device, D, H), x, grad_output=g)
    diagnosed = reference.diagnose(lambda ns: vjp(build(ns, weights, device, D, H), x, grad_output=g))
    got = vjp(build(student, weights, device, D, H), x, grad_output=g)
    what = f"DecoderBlock({D}, {H}) in float64"
    # Lazy like diagnose itself: the variants run only if a comparison fails.
    outputs = LazyMistakes(lambda: {k: v.output for k, v in diagnosed.items()})
    input_grads = LazyMistakes(lambda: {k: v.input_grads[0] for k, v in diagnosed.items()})
    expect_close(got.output, want.output, f"{what}: the output", mistakes=outputs)
    # An output in another dtype passes the comparison above (values are compared in a common
    # dtype) but loses precision the gradients then show: say where it came from.
    why = ""
    if isinstance(got.output, torch.Tensor) and got.output.dtype != want.output.dtype:
        why = f" (your output has dtype {str(got.output.dtype).removeprefix('torch.')}, the input's is float64)"
    expect_close(got.input_grads[0], want.input_grads[0], f"{what}: the gradient with respect to x{why}", mistakes=input_grads)
    for name in gpt2_block_shapes(D):
        grad = got.param_grads.get(name)
        expect(grad is not None, f"{what}: parameter {name} received no gradient (is it used in forward?)")
        expect_close(grad, want.param_grads[name], f"{what}: the gradient with respect to {name}{why}")


@pytest.mark.points(2)
def test_causal(student, reference, generator, device):
    weights = random_weights(D, generator)
    block = build(student, weights, device, D, H)
    T = 8
    x = _inputs(generator, device, 2, T, D)
    out = expect_tensor(block(x), f"DecoderBlock({D}, {H})(x)", shape=x.shape, device=x.device, finite=True)
    # A block that returns its input (or a constant) sees no later position either.
    expect_computed_update(out, build(reference, weights, device, D, H)(x), x, f"DecoderBlock({D}, {H})(x)")
    for t in (0, 3, 6):
        changed = x.clone()
        changed[:, t + 1 :] = _inputs(generator, device, 2, T - t - 1, D)
        again = expect_finite(block(changed), f"DecoderBlock({D}, {H})(x)")
        expect(tuple(again.shape) == tuple(out.shape), f"DecoderBlock({D}, {H})(x) has shape {tuple(again.shape)}")
        change = (again[:, : t + 1] - out[:, : t + 1]).abs().amax(dim=(0, 2))  # (t+1,) per position
        expect(
            bool((change <= 1e-5 + 1e-4 * out[:, : t + 1].abs().amax()).all()),
            f"changing the input at positions {t + 1}..{T - 1} changed the output at position "
            f"{int(change.argmax())} by up to {change.max().item():.3g}: a position must not see later ones "
            "(the attention has to be causal: mask the scores of later positions; and merge the heads back with "
            "y.transpose(1, 2) before the view to (B, T, C), or positions mix there too)",
        )


@pytest.mark.points(2)
def test_pre_layer_norm_with_residuals(student, reference, generator, device):
    base = random_weights(D, generator)
    # Non-normalised input: mean 1, std 3, so a LayerNorm on the residual stream shows.
    x = _inputs(generator, device, 2, 5, D, scale=3.0) + 1.0

    def silenced(*prefixes: str) -> dict[str, torch.Tensor]:
        return {k: (torch.zeros_like(v) if k.startswith(prefixes) else v) for k, v in base.items()}

    cases = [
        (silenced("mlp.c_proj"), "with the MLP's output projection set to zero, the block must return x + attn(ln_1(x))"),
        (silenced("attn.c_proj"), "with the attention's output projection set to zero, the block must return x + mlp(ln_2(x))"),
        (
            silenced("mlp.c_proj", "attn.c_proj"),
            "with both output projections set to zero, a pre-LN block passes x through unchanged",
        ),
    ]
    # One case alone cannot tell some mistakes apart (with the MLP silenced, ln_1 and ln_2
    # swapped looks like ln_2 used twice): a mistake is named only when the submission
    # matches it on every case and on the full block.
    weight_sets = [w for w, _ in cases] + [base]

    def all_outputs(ns) -> torch.Tensor:
        return torch.stack([expect_tensor(build(ns, w, device, D, H)(x), "output", shape=x.shape) for w in weight_sets])

    want_all = all_outputs(reference)
    mistakes = reference.diagnose(all_outputs)
    for weights, what in cases:
        expected = build(reference, weights, device, D, H)(x)
        got = build(student, weights, device, D, H)(x)
        try:
            expect_close(got, expected, what)
        except CheckFailure as exc:
            try:
                stacked = all_outputs(student)
            except (StudentError, CheckFailure, TypeError, RuntimeError):
                raise exc from None
            if type(stacked) is torch.Tensor and stacked.shape == want_all.shape:
                expect_close(got, expected, what, mistakes=mistakes, evidence=stacked)
            raise
    # The reference itself is the identity in the last case: say so if it is not.
    expect_close(expected, x, "the reference block with both output projections zeroed")


@pytest.mark.points(2)
def test_mlp_uses_tanh_gelu(student, reference, generator, device):
    weights = random_weights(D, generator, torch.float64)
    h = _inputs(generator, device, 2, 5, D, dtype=torch.float64, scale=2.0)  # pre-activations mostly in [-4, 4]
    expected = build(reference, weights, device, D, H).mlp(h)
    mistakes = reference.diagnose(lambda ns: build(ns, weights, device, D, H).mlp(h))
    expect_close(
        build(student, weights, device, D, H).mlp(h),
        expected,
        f"block.mlp(h) (float64, h of shape (2, 5, {D}))",
        mistakes=mistakes,
        hint="The MLP is c_proj(gelu_tanh(c_fc(h))), then dropout",
    )


@pytest.mark.points(1)
def test_layer_norm_eps_is_used(student, reference, generator, device):
    weights = random_weights(D, generator, torch.float64)
    # Small activations: with eps = 0.5 the normalisation is visibly damped.
    x = _inputs(generator, device, 2, 4, D, dtype=torch.float64, scale=0.3)
    expected = build(reference, weights, device, D, H, layer_norm_eps=0.5)(x)
    mistakes = reference.diagnose(lambda ns: build(ns, weights, device, D, H, layer_norm_eps=0.5)(x))
    default = build(reference, weights, device, D, H)(x)  # asked always, so that a kit records it
    out = build(student, weights, device, D, H, layer_norm_eps=0.5)(x)

    def eps_ignored() -> str | None:
        # The eps hint only when the evidence holds: the output is the reference's at the default eps.
        if describe_difference(out, default) is None:
            return "Pass layer_norm_eps to both LayerNorms: nn.LayerNorm(d_model, eps=layer_norm_eps)"
        mine = build(student, weights, device, D, H)(x)
        if type(mine) is torch.Tensor and describe_difference(mine, default) is not None:
            # Not "see test_output_matches_reference": on its float32 inputs a LayerNorm
            # written with eps outside the square root can pass.
            return ("The block differs from the reference at the default eps too, on these small float64 inputs: "
                    "if you wrote LayerNorm yourself, eps goes inside the square root, (x - mean) / sqrt(var + eps), "
                    "as in nn.LayerNorm(d_model, eps=layer_norm_eps)")
        return None

    expect_close(out, expected, f"DecoderBlock({D}, {H}, layer_norm_eps=0.5)(x)", mistakes=mistakes, hint=eps_ignored)


@pytest.mark.points(1)
def test_dropout_only_in_training(student, reference, generator, device):
    weights = random_weights(D, generator)
    x = _inputs(generator, device, 2, 6, D)
    what = f"DecoderBlock({D}, {H}, dropout=0.5)"
    expected = build(reference, weights, device, D, H, dropout=0.5)(x)
    mistakes = reference.diagnose(lambda ns: build(ns, weights, device, D, H, dropout=0.5)(x))
    no_dropout = build(reference, weights, device, D, H)(x)  # asked always, so that a kit records it
    block = build(student, weights, device, D, H, dropout=0.5)
    first = block(x)

    def without_dropout() -> str | None:
        mine = build(student, weights, device, D, H)(x)
        if type(mine) is torch.Tensor and describe_difference(mine, no_dropout) is not None:
            return "The block differs from the reference without dropout too, on these inputs: fix that first"
        return "Dropout must be off in eval mode: with dropout=0.5 the eval output is the output without dropout"

    evaluated = expect_close(first, expected, f"{what} in eval mode", mistakes=mistakes,
                             hint=first_of(repeat_hint(lambda: block(x), first), without_dropout))
    block.train()
    student.seed(0)
    trained = expect_finite(block(x), f"{what} in training mode")
    expect(
        not torch.allclose(trained, evaluated),
        f"{what} in training mode gave the same output as in eval mode: dropout is not applied "
        "(pass dropout on to the attention and the MLP)",
    )
    # The MLP's own dropout (GPT-2's layout: c_fc, GELU, c_proj, then dropout): the
    # attention's alone would pass the check above.
    h = _inputs(generator, device, 2, 6, D)
    mlp = block.mlp
    mlp.eval()
    quiet = expect_finite(mlp(h), f"{what}.mlp(h) in eval mode")
    mlp.train()
    student.seed(1)
    noisy = expect_finite(mlp(h), f"{what}.mlp(h) in training mode")
    expect(
        noisy.shape != quiet.shape or not torch.allclose(noisy, quiet),
        f"{what}.mlp in training mode gave the same output as in eval mode: the MLP has no dropout of its own "
        "(MLP(d_model, dropout) ends with dropout after c_proj, as in GPT-2)",
    )
    # Dropout last, on c_proj's output: each element of it is dropped (0) or kept and scaled
    # by 1 / (1 - 0.5) = 2, exactly. A dropout before c_proj (or a second one) leaves none so.
    dropped = noisy == 0
    kept_scaled = torch.allclose(noisy[~dropped], 2 * quiet[~dropped], rtol=1e-5, atol=1e-6)
    expect(
        noisy.shape == quiet.shape and 0.2 < dropped.float().mean().item() < 0.8 and kept_scaled,
        f"{what}.mlp in training mode: its output should have each element either dropped (0) or twice its eval "
        f"value, with p=0.5; {int(dropped.sum())} of {dropped.numel()} are 0 and the rest are "
        f"{'' if kept_scaled else 'not '}twice their eval value. The MLP's dropout goes last, on c_proj's output "
        "(c_fc, GELU, c_proj, then dropout, as in GPT-2)",
    )


@pytest.mark.points(1)
def test_input_not_modified(student, reference, generator, device):
    weights = random_weights(D, generator)
    block = build(student, weights, device, D, H)
    x = _inputs(generator, device, 2, 5, D)
    call = call_with_inputs(block, x)
    expect_finite(call.output, f"DecoderBlock({D}, {H})(x)")
    expect_computed_update(call.output, build(reference, weights, device, D, H)(x), x, f"DecoderBlock({D}, {H})(x)")
    expect_equal_tensors(call.args[0], x, "the input x (the block modified it in place: write x = x + ..., not x += ...)")


@pytest.mark.points(1)
def test_sequence_lengths(student, reference, generator, device):
    weights = random_weights(D, generator)
    block = build(student, weights, device, D, H)
    ref_block = build(reference, weights, device, D, H)
    for T in (1, 40):
        x = _inputs(generator, device, 1, T, D)
        mistakes = reference.diagnose(lambda ns: build(ns, weights, device, D, H)(x))
        expect_close(
            block(x), ref_block(x), f"DecoderBlock({D}, {H})(x) for a sequence of {T} token{'s' * (T > 1)}",
            mistakes=mistakes,
        )
