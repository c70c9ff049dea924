"""Exercise 1: a numerically stable softmax."""

from exercises import course_exercise
from grader.spec import forbid

EXERCISE = course_exercise(
    "softmax",
    "Numerically stable softmax",
    order=1,
    section="1. Softmax and the log-sum-exp trick",
    # The handout: "no torch.softmax, torch.nn.functional.softmax or torch.special
    # shortcuts". log_softmax(x).exp() and softmin(-x) are the same shortcut.
    forbidden=forbid(
        "the handout asks you to write softmax yourself, with plain tensor operations",
        "torch.softmax",
        "torch.Tensor.softmax",
        "torch.nn.functional.softmax",
        "torch.special.softmax",
        "torch.nn.Softmax",
        "torch.nn.Softmax2d",
        "torch._softmax",
        "torch._safe_softmax",
        "torch._masked_softmax",
        "torch.log_softmax",
        "torch.Tensor.log_softmax",
        "torch.nn.functional.log_softmax",
        "torch.special.log_softmax",
        "torch.nn.LogSoftmax",
        "torch._log_softmax",
        "torch.nn.functional.softmin",
        "torch.nn.Softmin",
    ),
)
