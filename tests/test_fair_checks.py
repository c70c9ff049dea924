"""Fair checks (issue 9): what a check asks is what the handout says; one mistake costs one
deduction; a property earns points only on output computed from the input; a hidden check on
non-contiguous input sees the input's real strides.

Each attempt below is graded with the instructor install (hidden checks included).
"""

from __future__ import annotations

import pytest
from conftest import check_named, graded

from grader.results import PASSED


def failed(result) -> list[str]:
    return [c.name for c in result.checks if c.status != PASSED]


def passed(result) -> list[str]:
    return [c.name for c in result.checks if c.status == PASSED]


# ----------------------------------------------------------------------------- zero effort


@pytest.mark.parametrize("name", ["uniform.py", "constant.py"])
def test_constant_softmax_scores_nothing(name):
    result = graded("softmax", name)
    assert result.score == 0, passed(result)
    message = check_named(result, "test_rows_sum_to_one").message
    assert "computed from its input" in message, message


@pytest.mark.parametrize("name", ["uniform_weights.py", "constant_weights.py"])
def test_uniform_attention_earns_no_property_points(name):
    result = graded("attention", name)
    # Only the __init__ layout check (names and shapes of c_attn, c_proj) is about
    # structure, not output; every output property now needs output computed from q, k.
    assert passed(result) == ["test_mha_parameter_names_and_shapes"], passed(result)
    assert result.score == 1
    for check in ("test_weights_rows_sum_to_one", "test_masked_keys_are_ignored", "test_inputs_not_modified"):
        assert "computed from its input" in check_named(result, check).message
    for check in ("test_mha_causal_ignores_later_tokens", "test_mha_batch_elements_independent",
                  "test_deterministic_in_training_mode"):
        assert "do not depend on q and k" in check_named(result, check).message


def test_a_decoder_block_returning_its_input_earns_no_property_points():
    """An identity block is causal, leaves its input alone and keeps batch elements apart:
    those properties count only for a block that adds what the reference adds."""
    result = graded("decoder_block", "returns_input.py")
    # Its MLP, checked on its own, is the correct one it was given.
    assert passed(result) == ["test_parameter_names_and_shapes", "test_mlp_uses_tanh_gelu"], passed(result)
    for check in ("test_causal", "test_input_not_modified", "test_hidden_batch_elements_independent"):
        assert "adds to its input" in check_named(result, check).message, check_named(result, check).message


# ----------------------------------------------------------------------------- one mistake, one deduction


def test_softmax_dtype_slip_costs_the_dtype_check_only():
    result = graded("softmax", "float32_always.py")
    assert sorted(failed(result)) == ["test_dtypes_preserved[float16]", "test_dtypes_preserved[float64]"], failed(result)
    assert result.score == result.max_score - 2
    assert "has dtype float32, expected float64" in check_named(result, "test_dtypes_preserved[float64]").message


def test_attention_dtype_slip_costs_the_dtype_check_only():
    result = graded("attention", "float32_weights.py")
    assert sorted(failed(result)) == ["test_dtypes_preserved[float16]", "test_dtypes_preserved[float64]"], failed(result)
    assert result.score == result.max_score - 2


def test_attention_computed_in_float32_and_cast_back_costs_the_dtype_check_only():
    """float64 weights from a float32 softmax are float32-precise: the dtype check says why it
    fails; the gradient check holds the gradients to float32's tolerance, as it does for
    weights returned in float32, instead of failing a second time for the same slip."""
    result = graded("attention", "float32_cast_back.py")
    assert failed(result) == ["test_dtypes_preserved[float64]"], failed(result)
    assert result.score == result.max_score - 1
    message = check_named(result, "test_dtypes_preserved[float64]").message
    assert "weight matrix" in message and "matches the reference only to float32 precision" in message, message
    assert "computed in float32 (a float32 tensor or constant, or a cast) and cast back" in message, message


def test_softmax_computed_in_float32_and_cast_back_costs_the_dtype_check_only():
    """As for attention: the right dtype at float32's precision fails the one check that asks
    for the dtype, saying why, and not the gradient check too."""
    check = "test_dtypes_preserved[float64]"
    result = graded("softmax", "float32_cast_back.py")
    assert failed(result) == [check], failed(result)
    message = check_named(result, check).message
    assert "softmax of a float64 tensor" in message and "only to float32 precision" in message, message
    assert "cast back" in message, message


def test_a_float32_constant_in_honest_float64_attention_costs_nothing():
    result = graded("attention", "float32_scale.py")
    assert failed(result) == [], failed(result)


def test_float32_error_within_float64_tolerance_costs_nothing():
    """ner_loss computed in float32 and cast back is a mean of 24 terms: within float64's
    tolerance, so no dtype check fails; its gradients, further off than float64 arithmetic
    explains, are held to float32's tolerance instead of failing another check."""
    result = graded("ner_head", "float32_cast_back.py")
    assert failed(result) == [], failed(result)


def test_a_value_computed_in_float32_and_cast_back_shows_float32_precision():
    import torch

    from grader.compare import output_dtypes, shown_precision

    exact = torch.randn(4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64).softmax(-1)
    cast_back = exact + 1e-6  # float32's errors after a softmax: past float64's tolerance, within float32's
    assert shown_precision(exact.clone(), exact) is None
    assert shown_precision(cast_back, exact) is torch.float32
    assert shown_precision(exact.half().double(), exact) is torch.float16
    assert shown_precision(exact.flip(-1), exact) is None  # a real mistake: wrong at every precision
    assert shown_precision("not a tensor", exact) is None and shown_precision(exact[:2], exact) is None
    assert output_dtypes((cast_back, exact)) == (torch.float64, torch.float64)
    assert output_dtypes((cast_back, exact), (exact, exact)) == (torch.float64, torch.float64, torch.float32)


def test_positional_encoding_dtype_slip_costs_the_dtype_check_only():
    result = graded("positional_encoding", "float64_table.py")
    assert failed(result) == ["test_dtype_is_float32"], failed(result)


def test_a_cast_comparison_says_so():
    import torch

    from grader.compare import describe_difference

    message = describe_difference(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0], dtype=torch.float64))
    assert "compared as float64" in message and "float32" in message
    assert describe_difference(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64)) is None
    assert "has dtype" in describe_difference(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64),
                                              strict_dtype=True)


# ----------------------------------------------------------------------------- false passes


def test_train_head_without_zero_grad_fails_the_training_check():
    result = graded("ner_head", "no_zero_grad.py")
    assert failed(result) == ["test_training_reaches_reference_f1"], failed(result)
    assert "zero_grad" in check_named(result, "test_training_reaches_reference_f1").message


def test_mlp_without_dropout_fails_the_dropout_check():
    result = graded("decoder_block", "mlp_no_dropout.py")
    assert failed(result) == ["test_dropout_only_in_training"], failed(result)
    assert "the MLP has no dropout" in check_named(result, "test_dropout_only_in_training").message


# ----------------------------------------------------------------------------- hidden checks ask what the handout says


def test_transposed_ner_loss_gets_full_marks():
    result = graded("ner_head", "transposed_loss.py")
    assert result.score == result.max_score, failed(result)


def test_softmax_assuming_contiguity_fails_the_non_contiguous_check():
    result = graded("softmax", "view_assumes_contiguous.py")
    assert failed(result) == ["test_non_contiguous_input"], failed(result)
    assert "view size is not compatible" in check_named(result, "test_non_contiguous_input").message


def test_keep_layout_crosses_the_wire_with_its_strides():
    import torch

    from grader import wire

    x = torch.arange(24.0).view(6, 4).t()[1:, ::2]
    enc = wire.Encoder()
    tree = enc.encode([wire.KeepLayout(x), x])
    got, plain = wire.Decoder(enc.blob(), lambda h: None, layouts=True).decode(tree)
    assert torch.equal(got, x) and got.stride() == x.stride() and not got.is_contiguous()
    assert torch.equal(plain, x) and plain.is_contiguous()


def test_a_reply_never_carries_a_layout():
    """A view with a stride of 0 shows one element as any number: a reply (what a worker
    sends back, a submission's included) holding one would make the grader hold them all."""
    import torch

    from grader import wire

    enc = wire.Encoder()
    tree = enc.encode(wire.KeepLayout(torch.zeros(1).expand(2**31)))
    assert tree["layout"]["stride"] == [0]
    with pytest.raises(wire.ProtocolError, match="layout"):
        wire.Decoder(enc.blob(), lambda h: None).decode(tree)


def test_a_layout_past_its_storage_is_a_protocol_error():
    import torch

    from grader import wire

    enc = wire.Encoder()
    tree = enc.encode(wire.KeepLayout(torch.zeros(4, 3).t()))
    tree["layout"]["stride"] = [1, 100]
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(enc.blob(), lambda h: None, layouts=True).decode(tree)


def test_describe_difference_exact_copies_and_near_misses():
    """An exact copy is close (the fast path); one element off, a NaN, or another dtype still
    gets its sentence."""
    import torch

    from grader.compare import describe_difference

    a = torch.randn(50257, 32)
    assert describe_difference(a, a.clone()) is None
    off = a.clone()
    off[123, 4] += 1.0
    assert "max abs error 1 at index (123, 4)" in describe_difference(off, a)
    nan = a.clone()
    nan[0, 0] = float("nan")
    assert "NaN" in describe_difference(nan, a)
    assert describe_difference(nan, nan.clone()) is None  # NaN where the reference has NaN
    assert describe_difference(a.double(), a) is None  # compared after a cast, as before
    assert "dtype" in describe_difference(a.double(), a, strict_dtype=True)
    # A float64 difference that 6 digits would hide is written with as many as show it.
    near = torch.tensor([0.5602941234], dtype=torch.float64)
    assert "(got 0.560294223, expected 0.560294123)" in describe_difference(near + 1e-7, near)


def test_differences_are_found_the_same_a_chunk_at_a_time(monkeypatch):
    """describe_difference works on float64 copies of a chunk at a time, not of the whole
    tensors (a hostile reply of 128 million float16 values cost 6 GB of the trusted side):
    the sentence is the same whatever the chunk."""
    import torch

    from grader import compare

    x = torch.randn(3, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    cases = []
    y = x.clone()
    y[1, 5] += 1e-3
    y[2, 7] += 2e-3
    y[2, 9] += 2e-3  # an equal maximum later: the first one is named
    cases.append(y.clone())
    y[2, 40] = float("nan")
    y[0, 1] = float("nan")
    cases.append(y.clone())
    z = x.clone()
    z[2, 2] = float("-inf")
    cases.append(z)
    whole = [compare.describe_difference(c, x) for c in cases]
    assert "max abs error 0.002 at index (2, 7)" in whole[0] and "3 of 150 elements are off" in whole[0]
    assert whole[1].startswith("contains NaN (2 elements, first at (0, 1))")
    assert whole[2].startswith("contains inf (1 elements, first at (2, 2))")
    monkeypatch.setattr(compare, "CHUNK", 7)
    assert [compare.describe_difference(c, x) for c in cases] == whole


def test_special_values_against_special_values_are_said_as_they_are():
    import torch

    from grader.compare import describe_difference, kind_of

    expected = torch.tensor([1.0, float("nan"), float("inf"), 2.0], dtype=torch.float64)
    got = torch.tensor([1.0, float("inf"), float("-inf"), 2.0], dtype=torch.float64)
    message = describe_difference(got, expected)
    assert "where the reference is finite" not in message and "max abs error inf" in message, message
    assert "1.8e+308" not in describe_difference(torch.tensor([float("-inf")]), torch.tensor([float("inf")]))
    assert [kind_of(v) for v in (3, None, [1], object())] == ["an int", "None", "a list", "an object"]
