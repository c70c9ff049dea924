"""The wrong decoder_block submissions, each the correct ``given_attention.py`` with a few exact
text replacements: ``write_variant(out_dir, name)`` writes ``name`` into ``out_dir``."""

from pathlib import Path

from conftest import submission_variant

BASE = Path(__file__).with_name("given_attention.py")
DOCSTRING = '"""Correct: the handout\'s given SDPA attention, MLP and block written as asked."""'
TANH_GELU = 'F.gelu(self.c_fc(x), approximate="tanh")'
RESIDUALS = "x = x + self.attn(self.ln_1(x))\n        x = x + self.mlp(self.ln_2(x))"

VARIANTS = {
    "mlp_hidden_2x.py": [
        (DOCSTRING, '"""Wrong: the MLP widens to 2 * d_model, not 4 * d_model."""'),
        ("self.c_fc = nn.Linear(d_model, 4 * d_model)\n        self.c_proj = nn.Linear(4 * d_model, d_model)",
         "self.c_fc = nn.Linear(d_model, 2 * d_model)\n        self.c_proj = nn.Linear(2 * d_model, d_model)"),
    ],
    "ln_eps_outside_sqrt.py": [
        (DOCSTRING, '"""Wrong: a hand-written LayerNorm adds eps to the standard deviation, not the variance."""'),
        ("from torch import Tensor, nn\n",
         "from torch import Tensor, nn\n\n\nclass LayerNorm(nn.LayerNorm):\n"
         "    def forward(self, x):\n"
         "        mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)\n"
         "        return (x - mean) / (var.sqrt() + self.eps) * self.weight + self.bias\n"),
        ("self.ln_1 = nn.LayerNorm(d_model, eps=layer_norm_eps)", "self.ln_1 = LayerNorm(d_model, eps=layer_norm_eps)"),
        ("self.ln_2 = nn.LayerNorm(d_model, eps=layer_norm_eps)", "self.ln_2 = LayerNorm(d_model, eps=layer_norm_eps)"),
    ],
    "returns_input.py": [
        (DOCSTRING, '"""Zero effort: the block returns its input (every property of a causal block holds)."""'),
        (RESIDUALS, "x = x * 1.0"),
    ],
    "dropout_before_c_proj.py": [
        (DOCSTRING, '"""Wrong: the MLP\'s dropout comes before c_proj, not after it (same output in eval mode)."""'),
        ("return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate=\"tanh\")))",
         "return self.c_proj(self.dropout(F.gelu(self.c_fc(x), approximate=\"tanh\")))"),
    ],
    "merge_without_transpose.py": [
        (DOCSTRING, '"""Wrong: the heads are merged with a reshape straight from (B, nh, T, hs)."""'),
        ("y = y.transpose(1, 2).contiguous().view(B, T, C)", "y = y.reshape(B, T, C)"),
    ],
    "exact_gelu.py": [
        (DOCSTRING, '"""Wrong: exact (erf) GELU in the MLP."""'),
        (TANH_GELU, "F.gelu(self.c_fc(x))"),
    ],
    "relu.py": [
        (DOCSTRING, '"""Wrong: ReLU in the MLP."""'),
        (TANH_GELU, "F.relu(self.c_fc(x))"),
    ],
    "in_place.py": [
        (DOCSTRING, '"""Wrong: adds the sub-layers into the caller\'s x in place."""'),
        (RESIDUALS, "x += self.attn(self.ln_1(x))\n        x += self.mlp(self.ln_2(x))"),
    ],
    "ln_swapped.py": [
        (DOCSTRING, '"""Wrong: ln_1 and ln_2 swapped."""'),
        (RESIDUALS, "x = x + self.attn(self.ln_2(x))\n        x = x + self.mlp(self.ln_1(x))"),
    ],
    "no_mlp_residual.py": [
        (DOCSTRING, '"""Wrong: no residual connection around the MLP."""'),
        ("x = x + self.mlp(self.ln_2(x))", "x = self.mlp(self.ln_2(x))"),
    ],
    "post_ln.py": [
        (DOCSTRING, '"""Wrong: post-LN, LayerNorm after each residual addition."""'),
        (RESIDUALS, "x = self.ln_1(x + self.attn(x))\n        x = self.ln_2(x + self.mlp(x))"),
    ],
    "mlp_no_dropout.py": [
        (DOCSTRING, '"""Wrong: the MLP has no dropout (the attention still has its own)."""'),
        ('return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))',
         'return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))'),
    ],
}


def write_variant(out_dir: Path, name: str) -> Path:
    """``out_dir / name``: the base with ``VARIANTS[name]`` applied."""
    return submission_variant(BASE, VARIANTS[name], out_dir, name)
