"""Attention attempts for the fair-checks corpus, each the correct ``baddbmm_manual_softmax.py``
with a few exact text replacements: ``write_variant(out_dir, name)`` writes ``name`` into ``out_dir``."""

from pathlib import Path

from conftest import submission_variant

BASE = Path(__file__).with_name("baddbmm_manual_softmax.py")
DOCSTRING = '"""Correct, written differently: baddbmm on flattened batches, a logsumexp softmax, permute/reshape."""'
SOFTMAX = "weights = torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))"
MATMUL = "out = torch.bmm(weights.reshape(-1, t_q, t_k), v.reshape(-1, t_k, d_v))"

VARIANTS = {
    # Zero effort: every allowed key gets the same weight, whatever q and k say (the mask
    # is honoured, so rows sum to one, masked keys get 0 and the output ignores them).
    "uniform_weights.py": [
        (DOCSTRING, '"""Zero effort: uniform weights over the keys the mask allows, q and k unused."""'),
        (SOFTMAX, "flat = torch.where(torch.isinf(scores), scores, scores * 0)\n"
                  "    weights = torch.exp(flat - torch.logsumexp(flat, dim=-1, keepdim=True))"),
    ],
    # Zero effort: a constant 1/T_k weight matrix, mask ignored.
    "constant_weights.py": [
        (DOCSTRING, '"""Zero effort: constant weights 1/T_k, q, k and the mask unused."""'),
        (SOFTMAX, "weights = scores * 0 + 1.0 / t_k"),
    ],
    # One mistake: the softmax is upcast to float32 for stability (as some libraries do) and
    # the weights are returned in float32, whatever the inputs' dtype.
    "float32_weights.py": [
        (DOCSTRING, '"""One mistake: the weights are computed and returned in float32 whatever the dtype of q, k, v."""'),
        (SOFTMAX, "scores = scores.float()\n"
                  "    weights = torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))"),
        (MATMUL, "out = torch.bmm(weights.reshape(-1, t_q, t_k).to(v.dtype), v.reshape(-1, t_k, d_v))"),
    ],
}


def write_variant(out_dir: Path, name: str) -> Path:
    """``out_dir / name``: the base with ``VARIANTS[name]`` applied."""
    return submission_variant(BASE, VARIANTS[name], out_dir, name)
