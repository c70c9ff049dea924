"""How a worker describes what submitted code raised, and the message the grader makes of it."""

from __future__ import annotations

import importlib.util
import os

import pytest

from grader.errors import error_doc, format_error, is_stub, outcome_type
from grader.worker import describe_exception

STUB = '''
def softmax(x, dim=-1):
    raise NotImplementedError("write softmax")
'''
LIBRARY = '''
import torch


def softmax(x, dim=-1):
    return x.long().softmax(dim)  # torch: "softmax_lastdim_kernel_impl" not implemented for 'Long'
'''


def _raised(tmp_path, source: str) -> dict:
    path = tmp_path / "softmax.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("softmax_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import torch

    with pytest.raises(NotImplementedError) as caught:
        module.softmax(torch.ones(3))
    return describe_exception(caught.value, {os.path.realpath(path)}, os.path.realpath(path))


def test_a_stubs_own_raise_is_not_implemented_yet(tmp_path):
    err = error_doc(_raised(tmp_path, STUB))
    assert is_stub(err) and outcome_type(err) == "NotImplementedError"
    assert format_error("softmax", err).startswith("softmax is not implemented yet (NotImplementedError: write softmax)")


def test_a_library_calls_not_implemented_is_an_error_of_the_code_not_a_stub(tmp_path):
    doc = _raised(tmp_path, LIBRARY)
    assert doc["library"] == "yes"
    err = error_doc(doc)
    assert not is_stub(err) and outcome_type(err) != "NotImplementedError"
    message = format_error("softmax", err)
    assert message.startswith("softmax raised NotImplementedError: \"softmax_lastdim_kernel_impl\" not implemented for 'Long'")
    assert "not implemented yet" not in message and "softmax.py, line 6" in message


@pytest.mark.parametrize("sent", [None, 7, "just text", ["a", "list"], {"type": ["x"], "message": {"m": 1}}])
def test_whatever_a_worker_sends_as_its_error_becomes_a_message(sent):
    err = error_doc(sent)
    assert all(type(v) is str for v in err.values())
    assert format_error("softmax", sent).startswith("softmax raised ")


def test_a_name_the_module_does_not_define_is_said_so_not_that_it_raised(tmp_path):
    from conftest import grade_file

    path = tmp_path / "softmax.py"
    path.write_text("def soft_max(x, dim=-1):\n    e = (x - x.amax(dim, keepdim=True)).exp()\n    return e / e.sum(dim, keepdim=True)\n")
    result = grade_file("softmax", path)
    messages = {c.message for c in result.checks}
    assert "your softmax.py defines no softmax (it defines soft_max)" in messages, messages
    assert not any("raised" in m for m in messages), messages


def test_a_name_defined_in_a_notebook_cell_that_is_not_graded_says_which_cell(tmp_path):
    import nbformat

    from conftest import grade_file
    from grader.notebooks import make_notebook
    from grader.registry import load_registry

    nb = make_notebook(load_registry().get("softmax"))
    tagged = next(c for c in nb.cells if c.cell_type == "code" and "def softmax" in c.source)
    tagged.source = "import torch\n"
    nb.cells.append(nbformat.v4.new_code_cell("def softmax(x, dim=-1):\n    return (x - x.logsumexp(dim, keepdim=True)).exp()\n"))
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, str(path))
    message = grade_file("softmax", path).checks[0].message
    assert message.startswith("your softmax.ipynb defines no softmax (it defines no function or class; 'softmax' is "
                              f"defined in cell {len(nb.cells)} of softmax.ipynb, which is not graded"), message


def test_calling_a_built_object_is_named_by_its_type_and_a_non_tensor_it_returns_is_not_a_raise(tmp_path):
    from conftest import ROOT, grade_file

    source = (ROOT / "solutions" / "decoder_block.py").read_text()
    block_return = "        x = x + self.mlp(self.ln_2(x))\n        return x\n"
    assert block_return in source
    path = tmp_path / "decoder_block.py"
    path.write_text(source.replace(block_return, "        x = x + self.mlp(self.ln_2(x))\n        self.ln_3(x)\n        return x\n"))
    messages = [c.message for c in grade_file("decoder_block", path).checks]
    assert any(m.startswith("calling the DecoderBlock raised AttributeError") for m in messages), messages
    path.write_text(source.replace(block_return, "        x = x + self.mlp(self.ln_2(x))\n"))
    grads = next(c for c in grade_file("decoder_block", path).checks if c.name == "test_gradients_match_reference")
    assert grads.message.startswith("calling the DecoderBlock returned a NoneType, not a tensor"), grads.message


def test_a_multi_line_error_becomes_one_line():
    err = {"type": "RuntimeError", "message": "Error(s) in loading state_dict for Head:\n\tMissing key(s) in state_dict: \"w\".\n"}
    assert format_error("load_state_dict", err) == (
        'load_state_dict raised RuntimeError: Error(s) in loading state_dict for Head: Missing key(s) in state_dict: "w".')


def test_what_breaks_backward_is_said_in_a_students_terms(tmp_path):
    from conftest import ROOT, grade_file

    path = tmp_path / "softmax.py"
    path.write_text("def softmax(x, dim=-1):\n    e = (x - x.amax(dim, keepdim=True)).exp()\n    e /= e.sum(dim, keepdim=True)\n"
                    "    return e\n")
    grads = next(c for c in grade_file("softmax", path).checks if c.name == "test_gradients_match_reference")
    assert "an in-place operation" in grads.message and "anomaly" not in grads.message, grads.message
    source = (ROOT / "solutions" / "attention.py").read_text()
    end = source.index("\n", source.index("return output, weights")) if "return output, weights" in source else -1
    assert end > 0
    path = tmp_path / "attention.py"
    path.write_text(source.replace("return output, weights", "return output", 1))
    grads = next(c for c in grade_file("attention", path).checks if c.name == "test_gradients_match_reference")
    assert "returned a Tensor, where the gradient check takes element 0 of a tuple" in grads.message, grads.message


def test_a_module_the_grader_does_not_have_says_what_graded_code_can_import(tmp_path):
    from conftest import grade_file

    path = tmp_path / "softmax.py"
    path.write_text("import einops_not_installed_here\n\n\ndef softmax(x, dim=-1):\n    return x\n")
    message = grade_file("softmax", path).checks[0].message
    assert "No module named 'einops_not_installed_here'" in message and "!pip lines are not run" in message, message
