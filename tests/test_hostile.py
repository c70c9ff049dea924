"""Hostile submissions: no points they did not earn, and the grader never crashes."""

import json
import os
import time

import pytest
from click.testing import CliRunner

from conftest import SUBMISSIONS, check_named, grade_file
from grader.cli import cli
from grader.sandbox import Limits

HOSTILE = SUBMISSIONS / "hostile"
ROOT = SUBMISSIONS.parents[1]
FAST = {"limits": Limits(call_seconds=1.5, exercise_seconds=20)}


def _messages(result) -> str:
    return "\n".join(c.message for c in result.checks)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("exit_at_import.py", "called sys.exit(0)"),
        ("import_solutions.py", "No module named 'solutions'"),
        ("infinite_loop.py", "did not return: softmax took longer than 1.5 s"),
        ("memory_bomb.py", "allocate"),
        ("output_flood.py", "did not return"),
        ("garbage_on_channel.py", "garbage"),
        ("segfault.py", "SIGSEGV"),
        ("patch_comparisons.py", "differs from the reference"),
        ("rigged_subclass.py", "differs from the reference"),
        ("network.py", "no network"),
        # Frames written into the channel are the submission's failure, never the grader's.
        ("forged_isolation_hello.py", "wrote into the grader's channel while being imported"),
        ("unreadable_reply.py", "could not read (unknown dtype 'nonsense')"),
        ("deep_json_reply.py", "objects and lists of JSON, over the limit"),  # counted before it is parsed
        # What it raised is shown, as escapes where it could not be shown as it is.
        ("float8_output.py", "returned a tensor of dtype float8_e4m3fn, which the checks cannot compute with"),
        ("complex_output.py", "returned a tensor of dtype complex64, which the checks cannot compute with"),
        ("escape_class_name.py", "got an object of type E\\x1b]0;PWNED\\x07\\x1b[2J"),
        ("forged_device_reply.py", "could not read (a tensor on device 'bogus', which this machine does not have)"),
        ("bigint_hello.py", "corrupted the grader's channel while being imported"),
        ("expanded_layout.py", "could not read (a tensor with a layout, which only the grader's requests carry)"),
        ("json_flood.py", "objects and lists of JSON, over the limit of 20,000"),
        ("object_dict_key.py", "could not read (a dict key of type Remote, where only plain values may be keys)"),
        ("unprintable_message.py", "raised Boom\\u202eError: lone \\ud800 surrogate, \\x1b[2J\\x1b[31m escapes, \\x00 NUL"),
    ],
)
def test_hostile_submission_earns_nothing(name, expected):
    result = grade_file("softmax", HOSTILE / name, **FAST)
    assert result.score == 0, [c.to_json() for c in result.checks if c.points]
    assert all(c.status == "failed" for c in result.checks), [c.to_json() for c in result.checks]
    assert expected in _messages(result)


def test_a_worker_holds_at_most_a_few_hundred_files():
    from grader.sandbox import OPEN_FILES

    result = grade_file("softmax", HOSTILE / "fd_hoard.py", **FAST)
    message = check_named(result, "test_values_match_reference").message
    held = int(message.split("held ")[1].split(" pipes")[0])
    assert "Too many open files" in message and held < OPEN_FILES // 2, message


def test_a_submission_that_rewrites_its_workers_replies_fails_only_itself():
    result = grade_file("softmax", HOSTILE / "rewritten_replies.py", **FAST)
    checks = {c.name: c for c in result.checks}
    assert not [c.to_json() for c in result.checks if c.status == "error"]
    for name in ("test_input_not_modified", "test_gradients_match_reference"):
        assert checks[name].status == "failed" and "not the worker's own" in checks[name].message, checks[name]
    assert result.score > 0  # the checks whose replies it left alone still pass


@pytest.mark.parametrize("kind", ["py", "ipynb"])
def test_more_code_than_a_module_may_hold_is_refused_before_anything_parses_it(tmp_path, kind):
    """The trusted side parses a submission (the handout's rules, a notebook's cells): 4 MiB of
    "a=1" lines took it 35 s and 2.6 GB. A module (or a notebook's code) past 256 kB is not one."""
    solution = (ROOT / "solutions" / "softmax.py").read_text()
    padding = "a = 1\n" * 50_000  # 300 kB
    if kind == "py":
        path = tmp_path / "softmax.py"
        path.write_text(solution + padding)
    else:
        import nbformat

        from grader.notebooks import make_notebook
        from grader.registry import load_registry

        nb = make_notebook(load_registry().get("softmax"))
        nb.cells.append(nbformat.v4.new_code_cell(padding))  # untagged: not graded, but parsed
        path = tmp_path / "softmax.ipynb"
        nbformat.write(nb, str(path))
    from grader.submission import SubmissionError

    with pytest.raises(SubmissionError, match="kB of code, more than the 256 kB a submitted module may hold"):
        grade_file("softmax", path, **FAST)  # a file given alone: one line, nothing graded
    result = grade_file("softmax", tmp_path, **FAST)  # in a folder: every check fails, saying why
    assert result.score == 0
    assert "kB of code, more than the 256 kB a submitted module may hold" in _messages(result)


def test_a_source_nested_past_the_parser_fails_to_import_and_the_source_scan_copes(tmp_path):
    # attention forbids calls, so its source is scanned in the trusted process too.
    path = tmp_path / "attention.py"
    path.write_text((ROOT / "solutions" / "attention.py").read_text() + "\n_unused = lambda: " + "-" * 200_000 + "1\n")
    result = grade_file("attention", path, **FAST)
    assert result.score == 0
    assert all(c.status == "failed" for c in result.checks), [c.to_json() for c in result.checks]
    assert "MemoryError" in _messages(result) or "RecursionError" in _messages(result)


def test_a_file_whose_name_is_not_utf8_is_jailed_and_graded(tmp_path):
    # Its path is bound into the jail as the bytes it is.
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(folder)
    os.chmod(tmp_path, 0o755)
    with open(folder + b"/softmax.py", "wb") as f:
        f.write((ROOT / "solutions" / "softmax.py").read_bytes())
    os.chmod(folder, 0o755)
    result = grade_file("softmax", os.fsdecode(folder + b"/softmax.py"), **FAST)
    assert result.score == result.max_score, [c.to_json() for c in result.checks if not c.points]


def test_os_exit_inside_a_call_fails_that_check_and_later_checks_get_a_fresh_worker():
    result = grade_file("softmax", HOSTILE / "os_exit_on_1d.py", **FAST)
    died = check_named(result, "test_values_match_reference")
    assert died.status == "failed"
    assert "ended the worker process during the call" in died.message
    # Checks after the crash ran in a fresh worker and passed on their merits.
    assert check_named(result, "test_gradients_match_reference").status == "passed"
    assert 0 < result.score < result.max_score


def test_reading_the_solution_file_from_disk_finds_nothing():

    if os.geteuid() != 0 and not _userns_available():
        pytest.skip("this kernel grants no mount namespace to unprivileged users")
    result = grade_file("softmax", HOSTILE / "read_solution_file.py", **FAST)
    assert result.score == 0
    assert "No such file or directory" in _messages(result)


def _userns_available() -> bool:
    pid = os.fork()
    if pid == 0:
        from grader.sandbox import CLONE_NEWNS, CLONE_NEWUSER, _libc

        os._exit(0 if _libc().unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) == 0


def test_cli_prints_a_score_and_no_traceback_for_a_crashing_submission():
    runner = CliRunner()
    result = runner.invoke(cli, ["exercise", "softmax", "--submission", str(HOSTILE / "segfault.py"), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["score"] == 0 and doc["max_score"] > 0
    assert "Traceback" not in result.output


def test_solutions_are_not_importable_in_the_worker_even_by_path_tricks():
    """The worker blocks the package name, whatever sys.path holds."""
    result = grade_file("softmax", HOSTILE / "import_solutions.py", **FAST)
    assert "not available to submissions" in _messages(result)


def test_killing_the_zygote_costs_only_the_check_that_did_it():
    result = grade_file("softmax", HOSTILE / "kill_zygote.py", **FAST)
    assert check_named(result, "test_values_match_reference").status == "failed"
    assert check_named(result, "test_gradients_match_reference").status == "passed"
    assert 0 < result.score < result.max_score


KILL_GRANDPARENT = """
import os, signal


def softmax(x, dim=-1):
    if x.dim() == 1:  # the worker's parent is its keeper; the keeper's is the zygote
        with open(f"/proc/{os.getppid()}/stat") as f:
            zygote = int(f.read().rsplit(")", 1)[1].split()[1])
        os.kill(zygote, signal.SIGKILL)
        os._exit(3)
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
"""


def test_a_zygote_restarted_mid_run_serves_the_next_runs_too(tmp_path):
    """The zygote a killed one is replaced by keeps its working folder outside the run's
    (which is removed when the run ends): the next submission graded in this process is
    not failed by a worker that cannot start. (Only --no-sandbox lets a submission reach
    the zygote: in the jail its parent is out of sight.)"""
    from grader.sandbox import OFF
    from grader.zygote import default_zygote

    zygote = default_zygote()
    restarts = zygote.restarts
    killer = tmp_path / "softmax.py"
    killer.write_text(KILL_GRANDPARENT)
    grade_file("softmax", killer, isolation=OFF, **FAST)
    assert zygote.restarts > restarts, "the submission did not kill the zygote: this test tests nothing"
    assert os.path.isdir(zygote.scratch) and "grader-run-" not in zygote.scratch
    after = grade_file("softmax", ROOT / "solutions" / "softmax.py", **FAST)
    assert after.score == after.max_score, [c.message for c in after.checks if c.message]


def test_an_endless_loop_is_waited_for_once():
    result = grade_file("softmax", HOSTILE / "infinite_loop.py", **FAST)
    waited = [c for c in result.checks if "did not return" in c.message and "not tried" not in c.message]
    assert len(waited) == 1, [c.message for c in result.checks]
    assert all("later calls of it were not tried" in c.message for c in result.checks if c not in waited)


def test_printing_megabytes_is_no_failure_and_the_log_keeps_head_and_tail(tmp_path):
    chatty = tmp_path / "softmax.py"
    chatty.write_text(
        "import torch\n"
        "def softmax(x, dim=-1):\n"
        "    print('FIRST' + 'debug ' * 400_000 + 'LAST')\n"
        "    e = torch.exp(x - x.amax(dim=dim, keepdim=True))\n"
        "    return e / e.sum(dim=dim, keepdim=True)\n"
    )
    result = grade_file("softmax", chatty, **FAST)
    assert result.score == result.max_score, [c.message for c in result.checks if c.status != "passed"]


def test_capped_log_keeps_the_first_and_last_part(tmp_path):
    from grader.output import CappedLog

    path = tmp_path / "worker.log"
    log = CappedLog(str(path), cap=1000)
    log.write(b"BEGIN" + b"x" * 600)
    for _ in range(100):
        log.write(b"y" * 100)
    log.write(b"END")
    log.flush()
    text = path.read_bytes()
    assert text.startswith(b"BEGIN") and text.endswith(b"END")
    assert b"bytes of output dropped" in text
    assert len(text) < 1100


def test_no_network_even_to_a_listener_on_this_machine(tmp_path):
    """network.py connects to a closed port; this one aims at a port that really listens."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    sub = tmp_path / "softmax.py"
    sub.write_text((HOSTILE / "network.py").read_text().replace('("127.0.0.1", 9)', f'("127.0.0.1", {port})'))
    try:
        result = grade_file("softmax", sub, **FAST)
        listener.settimeout(0.2)
        try:
            conn, _ = listener.accept()
            conn.close()
            reached = True
        except socket.timeout:
            reached = False
    finally:
        listener.close()
    assert not reached and "no network" in _messages(result)


def test_a_link_in_a_submission_folder_is_refused_and_its_target_left_alone(tmp_path):
    # `grade exercise`/`grade all` on a folder a student made: a link could name any file of
    # the grading machine, which a root grader would make readable and show to the jail.
    private = tmp_path / "private.txt"
    private.write_text("instructor's secret")
    private.chmod(0o600)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "softmax.py").symlink_to(private)
    nested = tmp_path / "nested"
    nested.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "softmax.py").write_text((ROOT / "solutions" / "softmax.py").read_text())
    (nested / "softmax").symlink_to(tmp_path / "elsewhere")  # softmax/softmax.py, through a folder link
    for folder in (flat, nested):
        result = grade_file("softmax", folder, **FAST)
        assert result.score == 0
        assert "is a symbolic link (or inside one): submit the file itself" in result.problem
    assert private.stat().st_mode & 0o777 == 0o600


def test_what_is_graded_is_a_private_copy_read_once(tmp_path):
    # No file of the submission is ever changed (a root grader used to add read permission
    # to them: through a hard link, to a file of anyone's), and a link swapped in after the
    # submission was read changes nothing.
    from grader.runner import GradeOptions, grade
    from grader.registry import load_registry
    from grader.submission import locate

    spec = load_registry().get("softmax")
    folder = tmp_path / "student"
    folder.mkdir()
    work = folder / "softmax.py"
    work.write_text((ROOT / "solutions" / "softmax.py").read_text())
    work.chmod(0o600)
    linked = tmp_path / "linked.py"
    os.link(work, linked)  # the file has another name elsewhere
    submission = locate(folder, [spec])
    private = tmp_path / "private.txt"
    private.write_text("def softmax(x, dim=-1):\n    raise RuntimeError('read the private file')\n")
    work.unlink()
    work.symlink_to(private)  # swapped in after the submission was read
    [result] = grade([spec], submission, GradeOptions(**FAST))
    assert result.score == result.max_score, [c.to_json() for c in result.checks if not c.points]
    assert linked.stat().st_mode & 0o777 == 0o600
    assert not any(p.exists() for p in submission.scratch), "the private copies outlived the run"


ODD_RETURNS = {
    # exercise: (what is appended to the reference, a message the student gets)
    "attention": ("_forward = MultiHeadAttention.forward\n"
                  "MultiHeadAttention.forward = lambda self, x, mask=None: _forward(self, x, mask).sum()\n", None),
    "decoder_block": ("_forward = DecoderBlock.forward\n"
                      "DecoderBlock.forward = lambda self, x: _forward(self, x) > 0\n", None),
    "ner_head": ("_forward = TokenClassificationHead.forward\n"
                 "TokenClassificationHead.forward = lambda self, h: _forward(self, h).double() if self.training "
                 "else _forward(self, h)\n", None),
    "gpt2_loading": ("def load_gpt2(checkpoint_dir):\n    model = gpt_from_hf(*read_hf_checkpoint(checkpoint_dir))\n",
                     "load_gpt2 should return the loaded GPT model, got None (a missing return statement?)"),
}


@pytest.mark.parametrize("exercise", sorted(ODD_RETURNS))
def test_a_value_a_check_cannot_use_is_the_submissions_failure_never_the_graders(tmp_path, exercise):
    # A 0-d output, a bool tensor, another dtype in training mode only, a loader without a
    # return: the checks' own code (or torch) fails on them. That is the student's failure,
    # not "the grader itself failed" (which --resume would retry for ever).
    appended, expected = ODD_RETURNS[exercise]
    folder = tmp_path / "student"
    folder.mkdir()
    for module in ("attention", "decoder_block"):  # what decoder_block and gpt2_loading import
        (folder / f"{module}.py").write_text((ROOT / "solutions" / f"{module}.py").read_text())
    (folder / f"{exercise}.py").write_text((ROOT / "solutions" / f"{exercise}.py").read_text() + "\n\n" + appended)
    result = grade_file(exercise, folder, include_hidden=False)
    assert not [c.to_json() for c in result.checks if c.status == "error"]
    assert result.score < result.max_score
    if expected:
        assert expected in _messages(result)


def test_no_worker_of_a_submission_outlives_it_in_a_batch_slot(tmp_path):
    """However the grader's side lost hold of a worker, the slot ends every one its
    submission started before the next student (Slot.cleanup -> Zygote.end_all)."""
    from grader.boundary import WorkerConfig
    from grader.live import WorkerProcess
    from grader.sandbox import OFF
    from grader.zygote import Zygote

    zygote = Zygote()
    try:
        zygote.wait_ready()
        module = str(ROOT / "solutions" / "softmax.py")
        config = WorkerConfig("student", "softmax", {"softmax": module}, str(tmp_path / "w.log"), isolation=OFF)
        lost = [WorkerProcess(zygote, config) for _ in range(2)]  # never killed by the grader's side
        assert all(zygote.status(w.pid).running for w in lost)
        assert zygote.end_all() == 2
        for worker in lost:
            for _ in range(100):
                if not zygote.status(worker.pid).running:
                    break
                time.sleep(0.05)
            assert zygote.status(worker.pid).signal == 9
    finally:
        zygote.close()


@pytest.mark.parametrize("cells", ['[{"a": 1}]', '[[1]]', '[["1", 2]]', '"x"'])
def test_a_forged_notebook_header_in_a_py_file_is_only_its_own_text(tmp_path, cells):
    """A .py may begin with the header the grader writes on a module made from a notebook;
    the trusted side reads it to place forbidden calls, and must never fail on it."""
    path = tmp_path / "softmax.py"
    path.write_text('# Generated by the grader from x.ipynb: all code cells.\n'
                    f'# grader-cells: {{"notebook": "x.ipynb", "cells": {cells}, "defined_elsewhere": []}}\n'
                    "import torch\n\n\ndef softmax(x, dim=-1):\n    return torch.softmax(x, dim)\n")
    result = grade_file("softmax", path, **FAST)
    assert result.score == 0
    assert all(c.status == "failed" for c in result.checks), [c.to_json() for c in result.checks if c.status != "failed"]
    assert "uses torch.softmax (softmax.py, line 7)" in _messages(result)
