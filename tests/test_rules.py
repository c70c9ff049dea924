"""The handouts' "do not call X" rules (grader/rules.py): a corpus of rule-breakers scores 0
with the rule named and where; correct submissions, written several ways, keep full marks.

The source check is tested directly (fast, no worker); the run-time check and the verdicts
by grading real files.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest
from conftest import grade_file

from grader import rules
from grader.results import PASSED
from grader.spec import Forbidden

SOFTMAX_RULE = "write softmax yourself"
ATTENTION_RULE = "write attention yourself"


def _rules(exercise: str) -> tuple[Forbidden, ...]:
    from grader.registry import load_registry

    return load_registry().get(exercise).forbidden


def _scan(tmp_path: Path, exercise: str, source: str) -> list[rules.Use]:
    path = tmp_path / f"{exercise}.py"
    path.write_text(textwrap.dedent(source))
    return rules.source_uses(path, [f.name for f in _rules(exercise)])


# --------------------------------------------------------------------------- the source check

SOFTMAX_BREAKERS = {
    "method": ("import torch\ndef softmax(x, dim=-1):\n    return x.softmax(dim)\n", "torch.Tensor.softmax", 3),
    "torch.softmax": ("import torch\ndef softmax(x, dim=-1):\n    return torch.softmax(x, dim)\n", "torch.softmax", 3),
    "F alias": (
        "import torch.nn.functional as F\n\ndef softmax(x, dim=-1):\n    return F.softmax(x, dim=dim)\n",
        "torch.nn.functional.softmax", 4,
    ),
    "from-import renamed": (
        "from torch import softmax as s\ndef softmax(x, dim=-1):\n    return s(x, dim)\n", "torch.softmax", 1,
    ),
    "nn.Softmax": (
        "from torch import nn\ndef softmax(x, dim=-1):\n    return nn.Softmax(dim=dim)(x)\n", "torch.nn.Softmax", 3,
    ),
    "module path inside torch": (
        "import torch\ndef softmax(x, dim=-1):\n    return torch.nn.modules.activation.Softmax(dim)(x)\n",
        "torch.nn.Softmax", 3,
    ),
    "special": (
        "import torch.special\ndef softmax(x, dim=-1):\n    return torch.special.softmax(x, dim)\n",
        "torch.special.softmax", 3,
    ),
    "log_softmax then exp": (
        "import torch\ndef softmax(x, dim=-1):\n    return torch.log_softmax(x, dim).exp()\n", "torch.log_softmax", 3,
    ),
    "getattr constant": (
        "import torch\ndef softmax(x, dim=-1):\n    return getattr(torch, 'softmax')(x, dim)\n", "torch.softmax", 3,
    ),
    "assigned alias": (
        "import torch\nfun = torch.nn.functional\ndef softmax(x, dim=-1):\n    return fun.softmax(x, dim)\n",
        "torch.nn.functional.softmax", 4,
    ),
    "star import": (
        "from torch.nn.functional import *\ndef softmax(x, dim=-1):\n    return softmin(-x, dim)\n",
        "torch.nn.functional.softmin", 3,
    ),
}


@pytest.mark.parametrize("case", sorted(SOFTMAX_BREAKERS))
def test_source_check_finds_softmax_shortcuts(tmp_path, case):
    source, name, line = SOFTMAX_BREAKERS[case]
    uses = _scan(tmp_path, "softmax", source)
    assert (name, line) in [(u.name, u.line) for u in uses], uses
    assert all(u.file == "softmax.py" for u in uses)


ATTENTION_BREAKERS = {
    "F.sdpa": (
        """
        import torch.nn.functional as F
        def scaled_dot_product_attention(q, k, v, mask=None):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return out, None
        """,
        "torch.nn.functional.scaled_dot_product_attention", 4,
    ),
    "nn.MultiheadAttention": (
        """
        import torch.nn as nn
        class MultiHeadAttention(nn.Module):
            def __init__(self, d_model, n_heads, causal=False):
                super().__init__()
                self.mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        """,
        "torch.nn.MultiheadAttention", 6,
    ),
    "from-import": (
        "from torch.nn.functional import scaled_dot_product_attention as sdpa\n",
        "torch.nn.functional.scaled_dot_product_attention", 1,
    ),
    "private op": (
        "import torch\ny = torch._C._VariableFunctions._scaled_dot_product_flash_attention_for_cpu\n",
        "torch._scaled_dot_product_flash_attention_for_cpu", 2,
    ),
}


@pytest.mark.parametrize("case", sorted(ATTENTION_BREAKERS))
def test_source_check_finds_attention_shortcuts(tmp_path, case):
    source, name, line = ATTENTION_BREAKERS[case]
    uses = _scan(tmp_path, "attention", source)
    assert (name, line) in [(u.name, u.line) for u in uses], uses


INNOCENT = {
    "softmax": """
        # torch.softmax would do this; x.softmax(dim) too, but the handout says no.
        import torch
        from torch import Tensor

        def softmax(x: Tensor, dim: int = -1) -> Tensor:
            '''Not torch.nn.functional.softmax: written out.'''
            softmax = x - torch.logsumexp(x, dim=dim, keepdim=True)   # a variable named softmax
            note = "F.softmax(x)"
            return softmax.exp()

        class Wrapper:
            def softmax(self, x):
                return softmax(x)

            def __call__(self, x):
                return self.softmax(x)
        """,
    "attention": """
        import math
        import torch
        import torch.nn as nn
        # torch.softmax is allowed here; F.scaled_dot_product_attention is not (nor used).

        def scaled_dot_product_attention(q, k, v, mask=None):
            w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(dim=-1)
            return w @ v, w

        class MultiHeadAttention(nn.Module):
            def forward(self, x):
                return scaled_dot_product_attention(x, x, x)[0]
        """,
}


@pytest.mark.parametrize("exercise", sorted(INNOCENT))
def test_names_comments_strings_and_allowed_calls_do_not_count(tmp_path, exercise):
    assert _scan(tmp_path, exercise, INNOCENT[exercise]) == []


def test_the_reference_solutions_and_stubs_keep_their_exercise_rules():
    from grader.registry import load_registry

    for spec in load_registry().ordered():
        names = [f.name for f in spec.forbidden]
        for path in (spec.stub, spec.solution):
            if path is not None and path.is_file():
                assert rules.source_uses(path, names) == [], (spec.name, path)


def test_message_names_the_rule_and_where():
    rule = (Forbidden("torch.softmax", "the handout asks you to write softmax yourself"),)
    text = rules.message([rules.Use("torch.softmax", "softmax.py", 3)], rule)
    assert text == "uses torch.softmax (softmax.py, line 3): the handout asks you to write softmax yourself"
    assert rules.message([], rule) is None


def test_worker_reports_are_checked_to_be_plain_data():
    raw = [{"name": "torch.softmax", "file": "/x/softmax.py", "line": 4}, {"name": 1}, "junk", {"line": True}]
    assert rules.reported_uses(raw) == [rules.Use("torch.softmax", "softmax.py", 4, runtime=True)]
    assert rules.reported_uses({"not": "a list"}) == []


# --------------------------------------------------------------------------- verdicts, graded


@functools.cache
def _graded(tmp: Path, exercise: str, name: str, source: str):
    path = tmp / name / f"{exercise}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return grade_file(exercise, path, device="cpu", include_hidden=True)


@pytest.fixture(scope="module")
def grading_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rules")


def _line_of(source: str, marker: str) -> int:
    return next(i for i, text in enumerate(source.splitlines(), 1) if marker in text)


def _assert_zero_with_rule(result, rule: str, name: str, line: int, runtime: bool) -> None:
    assert result.score == 0, [(c.name, c.status, c.message) for c in result.checks]
    assert result.checks and all(c.status != PASSED for c in result.checks)
    where = f"({result.exercise}.py, line {line}" + ("; seen at run time)" if runtime else ")")
    for check in result.checks:
        assert f"uses {name} {where}" in check.message and rule in check.message, check.message
    assert any(c.hidden for c in result.checks)  # the hidden checks too


SOFTMAX_GRADED = [
    ("method", "import torch\n\ndef softmax(x, dim=-1):\n    return x.softmax(dim)\n", "torch.Tensor.softmax", 4, False),
    (
        "nn_softmax",
        "import torch.nn as nn\n\ndef softmax(x, dim=-1):\n    return nn.Softmax(dim)(x)\n",
        "torch.nn.Softmax", 4, False,
    ),
    (
        "getattr_runtime",
        "import torch\n\nNAME = 'soft' + 'max'\n\ndef softmax(x, dim=-1):\n    return getattr(torch, NAME)(x, dim)\n",
        "torch.softmax", 6, True,
    ),
    (
        "eval_runtime",
        "import torch\n\ndef softmax(x, dim=-1):\n    return eval('x.soft' + 'max(dim)')\n",
        "torch.Tensor.softmax", 4, True,
    ),
]


@pytest.mark.parametrize("case, source, name, line, runtime", SOFTMAX_GRADED, ids=[c[0] for c in SOFTMAX_GRADED])
def test_softmax_rule_breakers_score_zero_naming_the_rule(grading_dir, case, source, name, line, runtime):
    _assert_zero_with_rule(_graded(grading_dir, "softmax", case, source), SOFTMAX_RULE, name, line, runtime)


_ATTENTION_BASE = (Path(__file__).resolve().parents[1] / "solutions" / "attention.py").read_text()
_SDPA_CALL = "    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k), over the keys\n"

ATTENTION_GRADED = [
    (
        "sdpa",
        # The whole function handed to PyTorch.
        _ATTENTION_BASE.replace(
            "    d_k = q.size(-1)\n",
            "    import torch.nn.functional as F\n"
            "    if mask is None:\n"
            "        return F.scaled_dot_product_attention(q, k, v), None\n"
            "    d_k = q.size(-1)\n",
        ),
        "torch.nn.functional.scaled_dot_product_attention", "return F.scaled_dot_product_attention", False,
    ),
    (
        "mha",
        _ATTENTION_BASE.replace(
            "        self.c_proj = nn.Linear(d_model, d_model)\n",
            "        self.c_proj = nn.Linear(d_model, d_model)\n"
            "        self._unused = [nn.MultiheadAttention(d_model, n_heads)]\n",
        ),
        "torch.nn.MultiheadAttention", "nn.MultiheadAttention(d_model", False,
    ),
    (
        "sdpa_runtime",
        _ATTENTION_BASE.replace(
            "    d_k = q.size(-1)\n",
            "    fn = getattr(torch.nn.functional, 'scaled_dot_product' + '_attention')\n"
            "    fn(q, k, v)\n"
            "    d_k = q.size(-1)\n",
        ),
        "torch.nn.functional.scaled_dot_product_attention", "fn(q, k, v)", True,
    ),
]


@pytest.mark.parametrize("case, source, name, line, runtime", ATTENTION_GRADED, ids=[c[0] for c in ATTENTION_GRADED])
def test_attention_rule_breakers_score_zero_naming_the_rule(grading_dir, case, source, name, line, runtime):
    assert source != _ATTENTION_BASE and _SDPA_CALL in _ATTENTION_BASE  # the base still fits the variants
    line = _line_of(source, line)
    result = _graded(grading_dir, "attention", case, source)
    if runtime:
        # Only the checks that call scaled_dot_product_attention saw it at run time.
        failing = [c for c in result.checks if f"uses {name}" in c.message]
        assert failing and all(c.points == 0 for c in failing), [(c.name, c.message) for c in result.checks]
        assert f"(attention.py, line {line}; seen at run time)" in failing[0].message
        assert ATTENTION_RULE in failing[0].message
        assert result.score < result.max_score
    else:
        _assert_zero_with_rule(result, ATTENTION_RULE, name, line, runtime)


SOFTMAX_CORRECT = {
    "logsumexp": INNOCENT["softmax"],
    "exp_max": """
        import torch

        def softmax(x, dim=-1):
            # not torch.softmax: subtract the max, exponentiate, normalise
            e = torch.exp(x - torch.amax(x, dim=dim, keepdim=True))
            return e / torch.sum(e, dim=dim, keepdim=True)
        """,
}


@pytest.mark.parametrize("case", sorted(SOFTMAX_CORRECT))
def test_correct_softmax_written_differently_keeps_full_marks(grading_dir, case):
    result = _graded(grading_dir, "softmax", "ok_" + case, textwrap.dedent(SOFTMAX_CORRECT[case]))
    assert result.score == result.max_score, [(c.name, c.message) for c in result.checks if c.status != PASSED]


def test_attention_may_use_tensor_softmax_which_softmax_forbids(grading_dir):
    source = _ATTENTION_BASE.replace(_SDPA_CALL, "    weights = scores.softmax(dim=-1)\n")
    result = _graded(grading_dir, "attention", "ok_method", source)
    assert result.score == result.max_score, [(c.name, c.message) for c in result.checks if c.status != PASSED]


SELF_TEST = '''
import torch

def softmax(x, dim=-1):
    e = (x - x.amax(dim, keepdim=True)).exp()
    return e / e.sum(dim, keepdim=True)

if __name__ == "__main__":  # never runs when graded: the module is imported
    x = torch.randn(3, 4)
    assert torch.allclose(softmax(x), torch.softmax(x, dim=-1))
'''


def test_a_self_test_under_the_main_guard_is_not_a_use(tmp_path):
    path = tmp_path / "softmax.py"
    path.write_text(SELF_TEST)
    assert rules.source_uses(path, ["torch.softmax"]) == []
    result = grade_file("softmax", path)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]
    # The same lines at top level run once, at import: a comparison, not the graded softmax.
    path.write_text(SELF_TEST.replace('if __name__ == "__main__":  # never runs when graded: the module is imported\n', "if True:\n"))
    assert rules.source_uses(path, ["torch.softmax"]) == []
    result = grade_file("softmax", path)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]


SELF_TESTS_AND_HELPERS = {
    # A comparison in a test function, as pytest would collect it.
    "test_function": SELF_TEST.replace('if __name__ == "__main__":  # never runs when graded: the module is imported\n',
                                       "def test_against_torch():\n"),
    # A notebook's check cell, all code cells graded.
    "check_cell": SELF_TEST.replace('if __name__ == "__main__":  # never runs when graded: the module is imported\n    ',
                                    "").replace("    assert", "print(") + ")\n",
    # The maths in a class of the student's own, called through the class or an instance.
    "static_method": '''
import torch

class StableSoftmax:
    @staticmethod
    def softmax(x, dim=-1):
        e = (x - x.amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

def softmax(x, dim=-1):
    return StableSoftmax.softmax(x, dim)
''',
    "instance_method": '''
import torch

class _Impl:
    def softmax(self, x, dim):
        e = (x - x.amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

_impl = _Impl()

def softmax(x, dim=-1):
    return _impl.softmax(x, dim)
''',
}


@pytest.mark.parametrize("source", [
    "import torch\nsoftmax = torch.softmax\n",
    "import torch\nsoftmax = lambda x, dim=-1: torch.softmax(x, dim)\n",
    "import torch\ntry:\n    def softmax(x, dim=-1):\n        return x.softmax(dim)\nexcept Exception:\n    pass\n",
])
def test_a_forbidden_name_bound_at_top_level_still_counts(tmp_path, source):
    path = tmp_path / "softmax.py"
    path.write_text(source)
    assert rules.source_uses(path, ["torch.softmax", "torch.Tensor.softmax"]), source


def test_a_use_in_a_notebook_is_placed_in_its_cell(tmp_path):
    import nbformat

    from grader.notebooks import make_notebook
    from grader.registry import load_registry

    nb = make_notebook(load_registry().get("softmax"))
    index, tagged = next((i, c) for i, c in enumerate(nb.cells, start=1) if c.cell_type == "code" and "def softmax" in c.source)
    tagged.source = "import torch\n\n\ndef softmax(x, dim=-1):\n    return torch.softmax(x, dim)\n"
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    message = grade_file("softmax", path).checks[0].message
    assert message.startswith(f"uses torch.softmax (softmax.ipynb, cell {index}, line 5"), message


# Red team, round 4: forbidden names used as values (bound, passed, unwrapped) wherever they are,
# which neither the source scan's self-test exemptions nor the runtime guard may miss.
HIDDEN_USES = {
    'module_made_at_top_level': 'import torch\n\n# "self-test" cell: a top-level statement, the forbidden class called in place\n_sm = torch.nn.Softmax(dim=-1)\n\n\ndef softmax(x, dim=-1):\n    _sm.dim = dim\n    return _sm(x)\n',
    'self_bound_to_the_tensor_class': 'import torch\n\n\nclass _Unused:\n    def softmax(self):\n        pass\n\n\ndef softmax(x, dim=-1):\n    self = type(x).__mro__[1]   # torch._C.TensorBase: the unwrapped original method\n    return self.softmax(x, dim)\n',
    'bound_in_a_print': 'import functools\nimport torch\n\nprint("binding", globals().update(softmax=functools.partial(torch.softmax, dim=-1)))\n',
    'partial_at_top_level': 'import functools\nimport torch\n\nsoftmax = functools.partial(torch.softmax, dim=-1)\n',
    'for_loop_iterable': 'import functools\nimport torch\n\nfor softmax in [functools.partial(torch.nn.functional.softmax, dim=-1)]:\n    pass\n',
    'unwrapped_in_a_test_function': 'import torch\n\n\ndef test_against_torch():\n    """self-test helper"""\n    return torch.softmax.__wrapped__\n\n\n_torch_softmax = test_against_torch()\n\n\ndef softmax(x, dim=-1):\n    return _torch_softmax(x, dim)\n',
    'local_shadowing_an_instance': "import torch\n\n\nclass Helper:\n    def softmax(self, x, dim=-1):\n        shifted = x - x.amax(dim=dim, keepdim=True)\n        return shifted.exp() / shifted.exp().sum(dim=dim, keepdim=True)\n\n\nh = Helper()\n\n\ndef softmax(x, dim=-1):\n    h = type(x).__mro__[1]  # torch._C.TensorBase: its softmax is not the guard's wrapper\n    return h.softmax(x, dim)\n",
    'defined_under_match': 'import torch\n\nmatch 0:\n    case _:\n        def softmax(x, dim=-1):\n            return torch.softmax.__wrapped__(x, dim)\n',
    'walrus_condition': 'import functools\nimport torch\n\nif softmax := functools.partial(torch.softmax, dim=-1):\n    pass\n',
    'defined_under_try_star': 'import torch\n\ntry:\n    def softmax(x, dim=-1):\n        return torch.softmax.__wrapped__(x, dim)\nexcept* ValueError:\n    pass\n',
}


HONEST_SELF_TESTS = {
    'own_module_in_an_attribute': 'import torch\n\n\ndef softmax(x, dim=-1):\n    shifted = x - x.amax(dim=dim, keepdim=True)\n    e = shifted.exp()\n    return e / e.sum(dim=dim, keepdim=True)\n\n\nclass StableSoftmax(torch.nn.Module):\n    def __init__(self, dim=-1):\n        super().__init__()\n        self.dim = dim\n\n    def forward(self, x):\n        return softmax(x, self.dim)\n\n\nclass Classifier(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.softmax = StableSoftmax(dim=-1)   # my own module, stored as an attribute\n\n    def forward(self, logits):\n        return self.softmax(logits)\n',
    'instance_made_in_place': 'import torch\n\n\nclass StableSoftmax:\n    def softmax(self, x, dim=-1):\n        shifted = x - x.amax(dim=dim, keepdim=True)\n        exp = shifted.exp()\n        return exp / exp.sum(dim=dim, keepdim=True)\n\n\ndef softmax(x, dim=-1):\n    return StableSoftmax().softmax(x, dim)\n',
    'annotated_instance': 'import torch\n\n\nclass StableSoftmax:\n    def softmax(self, x, dim=-1):\n        shifted = x - x.amax(dim=dim, keepdim=True)\n        exp = shifted.exp()\n        return exp / exp.sum(dim=dim, keepdim=True)\n\n\n_impl: StableSoftmax = StableSoftmax()\n\n\ndef softmax(x, dim=-1):\n    return _impl.softmax(x, dim)\n',
    'top_level_difference': 'import torch\n\n\ndef softmax(x, dim=-1):\n    shifted = x - x.amax(dim=dim, keepdim=True)\n    exp = shifted.exp()\n    return exp / exp.sum(dim=dim, keepdim=True)\n\n\nx = torch.randn(4, 5)\nerror = softmax(x) - torch.softmax(x, dim=-1)\nprint("max error", error.abs().max())\n',
    'unittest_method': 'import unittest\n\nimport torch\n\n\ndef softmax(x, dim=-1):\n    shifted = x - x.amax(dim=dim, keepdim=True)\n    exp = shifted.exp()\n    return exp / exp.sum(dim=dim, keepdim=True)\n\n\nclass TestSoftmax(unittest.TestCase):\n    def test_matches_torch(self):\n        x = torch.randn(3, 4)\n        torch.testing.assert_close(softmax(x), torch.softmax(x, dim=-1))\n',
}


@pytest.mark.parametrize("case", sorted(HIDDEN_USES))
def test_a_forbidden_name_used_as_a_value_counts_wherever_it_is(tmp_path, case):
    path = tmp_path / "softmax.py"
    path.write_text(HIDDEN_USES[case])
    from grader.registry import load_registry

    forbidden = [f.name for f in load_registry().get("softmax").forbidden]
    assert rules.source_uses(path, forbidden), case
    assert grade_file("softmax", path).score == 0


HONEST = {**SELF_TESTS_AND_HELPERS, **HONEST_SELF_TESTS}


@pytest.mark.parametrize("case", sorted(HONEST))
def test_honest_self_tests_and_helpers_keep_full_marks(tmp_path, case):
    path = tmp_path / "softmax.py"
    path.write_text(HONEST[case])
    assert rules.source_uses(path, ["torch.softmax", "torch.Tensor.softmax"]) == []
    result = grade_file("softmax", path)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if c.status != PASSED]


def test_the_runtime_guard_leaves_no_way_back_to_the_original(monkeypatch):
    import torch

    monkeypatch.setattr(torch, "softmax", torch.softmax)  # put back after the test
    rules.RuntimeGuard(["torch.softmax"], [])
    assert torch.softmax.__name__ == "softmax" and not hasattr(torch.softmax, "__wrapped__")
