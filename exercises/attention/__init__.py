"""Exercise 2: scaled dot-product attention with masks, and GPT-2 style multi-head attention."""

from exercises import course_exercise
from grader.spec import forbid

EXERCISE = course_exercise(
    "attention",
    "Scaled dot-product and multi-head attention",
    order=2,
    section="2. Scaled dot-product and multi-head attention",
    # "You may use torch.softmax here (you wrote your own in exercise 1)": or import that one.
    requires=("softmax",),
    # The handout: torch.softmax may be used; "Do not call
    # torch.nn.functional.scaled_dot_product_attention or nn.MultiheadAttention".
    forbidden=forbid(
        "the handout asks you to write attention yourself, not to call PyTorch's",
        "torch.nn.functional.scaled_dot_product_attention",
        "torch._C._nn.scaled_dot_product_attention",
        "torch.nn.MultiheadAttention",
        "torch.nn.functional.multi_head_attention_forward",
        "torch._scaled_dot_product_attention_math",
        "torch._scaled_dot_product_flash_attention",
        "torch._scaled_dot_product_flash_attention_for_cpu",
        "torch._scaled_dot_product_efficient_attention",
        "torch._scaled_dot_product_cudnn_attention",
    ),
)


def load_weights(ns, module, state_dict, what: str) -> None:
    """Load the check's ``state_dict`` into ``module``, a MultiHeadAttention built in ``ns``'s
    worker. A submission's own extra entries (minGPT's persistent ``bias`` mask, say) are
    tolerated: test_mha_parameter_names_and_shapes is where they cost a point, not every
    check that loads weights. A weight the module has no place for fails the check in one line."""
    from grader.compare import CheckFailure, load_into
    from grader.remote import fetch

    loaded = load_into(module, state_dict, what)
    if getattr(ns, "_label", "") != "student":
        return  # the reference and its mistakes hold exactly these entries
    unexpected = fetch(loaded.unexpected_keys)
    if unexpected:
        raise CheckFailure(f"{what} has no parameter named {unexpected[0]!r}, so the check's weights cannot be loaded "
                           "into it (see test_mha_parameter_names_and_shapes)")
