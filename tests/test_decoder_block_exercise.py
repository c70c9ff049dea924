"""The decoder-block exercise: reference, stub, wrong and differently written submissions,
and the reference against implementations nobody here wrote (torch.nn.functional, and
Hugging Face's GPT2Block)."""

import importlib.util
import math
import sys

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, SUBMISSIONS, check_named
from conftest import graded as graded_submission
from grader.results import PASSED
GPT2_KEYS = [
    "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
    "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
]  # fmt: skip


def graded(name: str):
    """A kept file or a variant of given_attention.py (submissions/decoder_block/variants.py),
    graded once per test session."""
    return graded_submission("decoder_block", name)


@pytest.mark.parametrize(
    "name, check, expected_message",
    [
        ("post_ln.py", "test_output_matches_reference", "post-LN"),
        ("post_ln.py", "test_pre_layer_norm_with_residuals", "post-LN"),
        ("no_mlp_residual.py", "test_pre_layer_norm_with_residuals", "no residual connection around the MLP"),
        ("exact_gelu.py", "test_output_matches_reference", "exact (erf) GELU"),
        ("exact_gelu.py", "test_mlp_uses_tanh_gelu", "exact (erf) GELU"),
        ("relu.py", "test_mlp_uses_tanh_gelu", "ReLU instead of GELU"),
        ("ln_swapped.py", "test_output_matches_reference", "ln_1 and ln_2 swapped"),
        ("not_causal.py", "test_causal", "the attention has to be causal"),
        ("not_causal.py", "test_output_matches_reference", "attention is not causal"),
        ("in_place.py", "test_input_not_modified", "modified it in place"),
        # Positions mix in the merge, not the mask: the message must not send them to the mask alone.
        ("merge_without_transpose.py", "test_output_matches_reference", "heads merged without transposing back"),
        ("merge_without_transpose.py", "test_causal", "merge the heads back with y.transpose(1, 2)"),
        # Training mode only: each output element of the MLP is dropped or doubled, exactly.
        ("dropout_before_c_proj.py", "test_dropout_only_in_training", "The MLP's dropout goes last, on c_proj's output"),
    ],
)
def test_wrong_submissions_get_partial_scores_and_named_mistakes(name, check, expected_message):
    result = graded(name)
    assert 0 < result.score < result.max_score, result.to_json()
    failing = check_named(result, check)
    assert failing.status == "failed"
    assert expected_message in failing.message, failing.message


def test_gpt2_names_are_required():
    result = graded("sequential_mlp.py")
    message = check_named(result, "test_parameter_names_and_shapes").message
    assert "'mlp.c_fc.weight'" in message and "mlp.0.weight" in message, message
    assert "cannot be loaded" in check_named(result, "test_output_matches_reference").message


@pytest.mark.parametrize("name", ["given_attention.py", "manual_layernorm.py"])
def test_differently_written_correct_submissions_get_full_marks(name):
    # given_attention.py keeps the handout's SDPA attention; manual_layernorm.py writes its
    # own LayerNorm, GELU formula and einsum attention with a non-persistent mask buffer.
    result = graded(name)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]


# --------------------------------------------------------------------------- the reference itself


def random_block_weights(d: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shapes = {
        "ln_1.weight": (d,), "ln_1.bias": (d,), "attn.c_attn.weight": (3 * d, d), "attn.c_attn.bias": (3 * d,),
        "attn.c_proj.weight": (d, d), "attn.c_proj.bias": (d,), "ln_2.weight": (d,), "ln_2.bias": (d,),
        "mlp.c_fc.weight": (4 * d, d), "mlp.c_fc.bias": (4 * d,), "mlp.c_proj.weight": (d, 4 * d),
        "mlp.c_proj.bias": (d,),
    }  # fmt: skip
    out = {}
    for name, shape in shapes.items():
        t = torch.randn(shape, generator=gen, dtype=torch.float64)
        out[name] = 1 + 0.2 * t if name.startswith("ln_") and name.endswith("weight") else t / math.sqrt(shape[-1])
    return out


def reference_block(d: int, h: int, weights: dict[str, torch.Tensor], **kwargs):
    from solutions.decoder_block import DecoderBlock

    block = DecoderBlock(d, h, **kwargs).double().eval()
    block.load_state_dict(weights)
    return block


def handmade_block(x: torch.Tensor, w: dict[str, torch.Tensor], n_heads: int, eps: float = 1e-5) -> torch.Tensor:
    """Oracle: the block from torch.nn.functional primitives only."""
    B, T, C = x.shape

    def attention(h):
        q, k, v = F.linear(h, w["attn.c_attn.weight"], w["attn.c_attn.bias"]).split(C, dim=2)
        q, k, v = (t.view(B, T, n_heads, C // n_heads).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        return F.linear(y, w["attn.c_proj.weight"], w["attn.c_proj.bias"])

    def mlp(h):
        h = F.gelu(F.linear(h, w["mlp.c_fc.weight"], w["mlp.c_fc.bias"]), approximate="tanh")
        return F.linear(h, w["mlp.c_proj.weight"], w["mlp.c_proj.bias"])

    x = x + attention(F.layer_norm(x, (C,), w["ln_1.weight"], w["ln_1.bias"], eps))
    return x + mlp(F.layer_norm(x, (C,), w["ln_2.weight"], w["ln_2.bias"], eps))


@pytest.mark.parametrize("d, h, T", [(32, 4, 9), (48, 1, 5), (48, 12, 16), (16, 2, 1)])
def test_reference_agrees_with_functional_primitives(d, h, T):
    weights = {k: v.clone().requires_grad_() for k, v in random_block_weights(d, seed=d + h).items()}
    x = torch.randn(2, T, d, dtype=torch.float64, generator=torch.Generator().manual_seed(T), requires_grad=True)
    g = torch.randn(2, T, d, dtype=torch.float64)
    block = reference_block(d, h, {k: v.detach() for k, v in weights.items()})
    out = block(x)
    want = handmade_block(x, weights, h)
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-12)
    got_grads = torch.autograd.grad(out, [x, *block.parameters()], g)
    names = ["x"] + [n for n, _ in block.named_parameters()]
    want_grads = torch.autograd.grad(want, [x] + [weights[n] for n in names[1:]], g)
    for name, a, b in zip(names, got_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=f"gradient of {name}")


def test_reference_layer_norm_eps_agrees_with_functional_primitives():
    weights = random_block_weights(32)
    x = torch.randn(2, 4, 32, dtype=torch.float64) * 0.3
    torch.testing.assert_close(reference_block(32, 4, weights, layer_norm_eps=0.5)(x), handmade_block(x, weights, 4, 0.5))


@pytest.mark.parametrize("d, h", [(32, 4), (64, 8)])
def test_reference_equals_huggingface_gpt2_block(d, h):
    """Oracle nobody here wrote: one GPT2Block from transformers, weights copied over."""
    from transformers import GPT2Config
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block

    config = GPT2Config(n_embd=d, n_head=h, n_layer=1, resid_pdrop=0.0, attn_pdrop=0.0, embd_pdrop=0.0)
    config._attn_implementation = "eager"
    hf = GPT2Block(config).double().eval()
    weights = random_block_weights(d, seed=h)
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    # Conv1D stores (in, out), nn.Linear (out, in).
    hf_state = {k: (v.t().contiguous() if k in conv1d else v) for k, v in weights.items()}
    hf.load_state_dict(hf_state, strict=False)
    for name, value in hf_state.items():
        assert torch.equal(hf.state_dict()[name], value), name
    T = 11
    x = torch.randn(3, T, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    # The causal mask is passed explicitly: whether a bare GPT2Block applies one itself
    # differs across transformers versions. An additive (B, 1, T, T) mask works in all.
    mask = torch.zeros(1, 1, T, T, dtype=torch.float64)
    mask = mask.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), torch.finfo(torch.float64).min)
    out = hf(x, attention_mask=mask)
    out = out[0] if isinstance(out, tuple) else out
    torch.testing.assert_close(reference_block(d, h, weights)(x), out, rtol=1e-10, atol=1e-12)
    assert sorted(reference_block(d, h, weights).state_dict()) == sorted(hf_state) == sorted(GPT2_KEYS)


def _load_stub_attention():
    """The handout's given CausalSelfAttention, loaded from the stub file."""
    path = ROOT / "exercises" / "decoder_block" / "decoder_block.py"
    spec = importlib.util.spec_from_file_location("_decoder_block_stub", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CausalSelfAttention


def test_given_sdpa_attention_equals_reference_attention():
    from solutions.decoder_block import CausalSelfAttention

    given = _load_stub_attention()(48, 6).double().eval()
    ours = CausalSelfAttention(48, 6).double().eval()
    ours.load_state_dict(given.state_dict())
    x = torch.randn(2, 13, 48, dtype=torch.float64)
    torch.testing.assert_close(given(x), ours(x), rtol=1e-10, atol=1e-12)
    assert sorted(given.state_dict()) == ["c_attn.bias", "c_attn.weight", "c_proj.bias", "c_proj.weight"]


def _mistakes_module():
    """solutions/decoder_block_mistakes.py, which imports the reference as ``decoder_block``."""
    import solutions.decoder_block as reference

    saved = sys.modules.get("decoder_block")
    sys.modules["decoder_block"] = reference
    try:
        spec = importlib.util.spec_from_file_location("_decoder_block_mistakes", ROOT / "solutions" / "decoder_block_mistakes.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop("decoder_block", None)
        else:
            sys.modules["decoder_block"] = saved
    return module


def test_every_known_mistake_differs_from_the_reference_with_the_same_weights():
    mistakes = _mistakes_module().MISTAKES
    weights = random_block_weights(32)
    x = torch.randn(2, 7, 32, dtype=torch.float64)
    expected = reference_block(32, 4, weights)(x)
    outputs = {}
    for name, overrides in mistakes.items():
        block = overrides["DecoderBlock"](32, 4).double().eval()
        block.load_state_dict(weights)  # same names: the same weights load into every variant
        outputs[name] = block(x)
        assert (outputs[name] - expected).abs().max() > 1e-5, name
    # ... and from each other, so a message names one mistake, not a lookalike.
    names = list(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (outputs[a] - outputs[b]).abs().max() > 1e-5, (a, b)


def test_a_block_may_import_the_students_own_attention(tmp_path):
    """The handout allows a student's exercise-2 attention instead of the given one: an
    attention.py handed in beside decoder_block.py is importable, in this exercise and in
    gpt2_loading, which builds its GPT from the block."""
    import shutil

    from conftest import grade_file
    from grader.api import grade_exercises

    shutil.copy(SUBMISSIONS / "decoder_block" / "own_attention" / "decoder_block.py", tmp_path)
    shutil.copy(ROOT / "solutions" / "attention.py", tmp_path)
    result = grade_file("decoder_block", tmp_path)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]
    shutil.copy(ROOT / "solutions" / "gpt2_loading.py", tmp_path)
    (gpt2,) = grade_exercises(["gpt2_loading"], tmp_path)
    assert gpt2.score == gpt2.max_score, [c.to_json() for c in gpt2.checks if c.status != PASSED]


def test_weights_of_another_shape_are_named_in_the_students_terms():
    """load_state_dict's size mismatch, raised inside a call the student never wrote, is said
    as the layer and both shapes."""
    from conftest import check_named, graded

    result = graded("decoder_block", "mlp_hidden_2x.py")
    message = check_named(result, "test_output_matches_reference").message
    assert message.startswith("DecoderBlock(32, 4)'s mlp.c_fc.weight has shape (64, 32), where the check's weights "
                              "have (128, 32)"), message
    assert "load_state_dict" not in message and "torch.Size" not in message, message


def test_a_layer_norm_with_eps_outside_the_root_is_named():
    """Its float32 error sits on the tolerance (which float32 checks fail depends on the
    seed); the float64 eps check always fails, and names it."""
    from conftest import check_named, graded

    result = graded("decoder_block", "ln_eps_outside_sqrt.py")
    message = check_named(result, "test_layer_norm_eps_is_used").message
    assert "known mistake: LayerNorm written with eps outside the square root" in message, message
