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
