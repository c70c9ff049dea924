"""Answers with a tensor of the wrong shape (1-D, whatever it was given): a check that indexes
the output before checking its shape then fails in the grader's own code, which the batch
counts as the grader's failure (exit 1, regraded on every --resume)."""

# ---- the attack ----


def softmax(x, dim=-1):
    return torch.zeros(x.numel() + 1)
