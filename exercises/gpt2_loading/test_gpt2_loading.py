"""Checks for exercise 6 (GPT-2 loading). Run with ``grade exercise gpt2_loading``.

The weight checks compare your loaded model's ``state_dict()`` with what the checkpoint
file holds (worked out here, in the grader, from the file), so a correct loader earns them
even while your DecoderBlock's forward is still wrong; the logits and generation checks
need both right. ``--checkpoint DIR`` (or ``GRADER_GPT2_CHECKPOINT``) grades on another
GPT-2 folder, a real one say; the layout-variant and cropping checks always use the tiny
checkpoint in data/tiny-gpt2.
"""

import tempfile
from pathlib import Path

import pytest
import torch

from exercises.gpt2_loading import TINY_CHECKPOINT, Checkpoint, checkpoint_folder, read_checkpoint, write_variant
from grader.compare import (
    CheckFailure,
    describe_difference,
    expect,
    expect_close,
    expect_tensor,
    matching_mistake,
    values_close,
)
from grader.remote import KitOutOfDate, Remote, StudentError, fetch

PROMPT = "Hello, I am"
PROMPT_IDS = [15496, 11, 314, 716]  # GPT-2's tokens for PROMPT
CONV1D = "attn.c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj"


@pytest.fixture
def checkpoint(settings) -> Checkpoint:
    """The checkpoint being graded on: --checkpoint, else the tiny one."""
    return read_checkpoint(checkpoint_folder(settings))


@pytest.fixture
def tiny() -> Checkpoint:
    return read_checkpoint(TINY_CHECKPOINT)


# --------------------------------------------------------------------------- helpers


def _on(device: torch.device, model):
    return model.to(device.type) if device.type != "cpu" else model


def load(student, folder: Path):
    """``student.load_gpt2(folder)``, with a hint for the errors loaders usually hit."""
    try:
        model = student.load_gpt2(str(folder))
    except StudentError as exc:
        text = str(exc)
        hint = ""
        if "size mismatch" in text:
            hint = f"a shape mismatch: GPT-2 stores the Conv1D weights ({CONV1D}) as (in, out); transpose them to nn.Linear's (out, in)"
        elif "Unexpected key" in text and "transformer." in text:
            hint = "unexpected keys: the checkpoint's names start with 'transformer.'; strip that prefix"
        elif "Unexpected key" in text and ("attn.bias" in text or "masked_bias" in text):
            hint = "unexpected keys: h.N.attn.bias and h.N.attn.masked_bias are saved mask buffers, not weights; skip them"
        elif (not (Path(folder) / "model.safetensors").exists() and (Path(folder) / "pytorch_model.bin").exists()
              and ("safetensors" in text or "No such file" in text or "FileNotFoundError" in text)):
            hint = ("an error on a folder that holds pytorch_model.bin and no model.safetensors: your loader reads only "
                    "model.safetensors; when it is absent, read pytorch_model.bin with "
                    "torch.load(path, map_location='cpu', weights_only=True)")
        elif "Missing key" in text and "lm_head.weight" in text:
            hint = "lm_head.weight is not stored: it is tied to wte.weight, which covers it"
        if hint:
            raise CheckFailure(f"load_gpt2 failed with {hint}. The error: {text}") from None
        raise
    # A model stays in the worker and comes back as a handle; anything else is data.
    expect(isinstance(model, Remote), f"load_gpt2 should return the loaded GPT model, got {_what(model)} "
                                      "(a missing return statement?)")
    return model


def _what(value) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def state_problem(state, ckpt: Checkpoint) -> str | None:
    """What is wrong with a loaded ``state_dict`` compared with the checkpoint, or None."""
    if not isinstance(state, dict):
        return f"state_dict() returned a {type(state).__name__}, not a dict of tensors"
    missing = [k for k in ckpt.expected if k not in state]
    if missing:
        if any(str(k).startswith("transformer.") for k in state):
            return ("your GPT's parameters are named 'transformer.…': put wte, wpe, h, ln_f and lm_head "
                    "directly on GPT (the checkpoint's names without the prefix)")
        extra = [k for k in state if k not in ckpt.expected][:3]
        seen = f"; your model has {', '.join(map(str, extra))} instead" if extra else ""
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"your model has no parameter {missing[0]}{more}: GPT needs GPT-2's names (wte, wpe, h.N.ln_1, h.N.attn.c_attn, …, ln_f, lm_head){seen}"
    wrong = [p for name, want in ckpt.expected.items() if (p := tensor_problem(name, state[name], want, ckpt))]
    if not wrong:
        return None
    more = f" ({len(wrong) - 1} more parameters are wrong too)" if len(wrong) > 1 else ""
    return wrong[0] + more


def tensor_problem(name: str, got, want: torch.Tensor, ckpt: Checkpoint) -> str | None:
    if type(got) is not torch.Tensor:
        return f"{name} is not a tensor"
    if got.device.type != want.device.type:
        got = got.to(want.device)
    src = ckpt.sources[name]
    if got.shape != want.shape:
        if got.dim() == 2 and got.shape == want.t().shape:
            return (f"{name} has shape {tuple(got.shape)}, the checkpoint's {src} is stored {tuple(got.shape)} (in, out) "
                    f"and nn.Linear needs {tuple(want.shape)} (out, in): build the block with nn.Linear and transpose")
        return f"{name} has shape {tuple(got.shape)}, expected {tuple(want.shape)} (from the checkpoint's {src})"
    # Loading copies: bit-equal is the rule (and fast); the tolerance is for odd dtypes.
    if torch.equal(got, want) or (problem := describe_difference(got, want)) is None:
        return None
    if name in ckpt.transposed and values_close(got, want.t()):
        return (f"{name} holds the checkpoint's {src} without the transpose: GPT-2 stores its Conv1D weights "
                f"({CONV1D}) as (in, out), nn.Linear as (out, in); transpose all four in every block, "
                f"also the square attn.c_proj.weight, where no shape error warns you")
    if name in ckpt.transposed and got.dim() == 2 and values_close(got.reshape(want.t().shape), want.t()):
        return (f"{name} holds the checkpoint's {src} reshaped (or viewed) to {tuple(want.shape)}, not transposed: "
                f"GPT-2 stores its Conv1D weights ({CONV1D}) as (in, out); use .t() to get nn.Linear's (out, in)")
    for other, tensor in ckpt.expected.items():
        if other != name and values_close(got, tensor):
            return f"{name} holds the checkpoint's {ckpt.sources[other]} instead of its {src}"
    return f"{name} is not the checkpoint's {src} (was it loaded?): it {problem}"


def expect_state(model, ckpt: Checkpoint, what: str) -> None:
    problem = state_problem(model.state_dict(), ckpt)
    expect(problem is None, f"{what}: {problem}")


def where_it_goes_wrong(model, ckpt: Checkpoint) -> str:
    """For a wrong output: are the weights already wrong, or the forward pass?"""
    try:
        problem = state_problem(model.state_dict(), ckpt)
    except StudentError:
        return ""
    if problem:
        return f"The loaded weights are already wrong: {problem}"
    try:
        tied = model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr()
    except StudentError:
        tied = False
    if not tied:
        return "lm_head is not tied to wte: GPT-2's output projection is the token embedding (see test_lm_head_tied_to_wte)"
    return ("The weights load correctly, so look at GPT.forward (wte(idx) + wpe(positions), every block in h, "
            "ln_f, lm_head; layer norms with the config's layer_norm_epsilon) and at your DecoderBlock (grade exercise decoder_block)")


def expect_output(got, expected: torch.Tensor, what: str, mistakes: dict, model, ckpt: Checkpoint) -> None:
    try:
        expect_close(got, expected, what, mistakes=mistakes)
    except CheckFailure as exc:
        if "known mistake" in str(exc) or type(got) is not torch.Tensor:
            raise
        raise CheckFailure(f"{exc}. {where_it_goes_wrong(model, ckpt)}") from None


def expect_tokens(got, expected: torch.Tensor, what: str, mistakes: dict, model, n_positions: int, decode=None) -> None:
    """Generated ids equal, else say at which step they part, what each side wrote, and why."""
    got = expect_tensor(got, what)
    if got.shape != expected.shape:
        raise CheckFailure(f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}: "
                           "return the prompt followed by the new tokens, (B, T + max_new_tokens)")
    if got.dtype != expected.dtype:
        raise CheckFailure(f"{what} has dtype {got.dtype}, expected {expected.dtype} (token ids)")
    got, expected = got.cpu(), expected.cpu()
    if torch.equal(got, expected):
        return
    row, col = (got != expected).nonzero()[0].tolist()
    message = f"{what} differs from the reference first at row {row}, position {col}: "
    if decode is not None:
        message += f"yours continues {decode(got[row, col:].tolist())!r}, the reference {decode(expected[row, col:].tolist())!r}"
    else:
        message += f"you chose token {got[row, col].item()}, the reference {expected[row, col].item()}"
    mistake = matching_mistake(got, mistakes, expected)
    if mistake:
        message += f". This looks like a known mistake: {mistake}"
    else:
        message += ". " + generate_or_model(model, got, row, col, n_positions)
    raise CheckFailure(message, mistake=mistake)


def generate_or_model(model, got: torch.Tensor, row: int, col: int, n_positions: int) -> str:
    """Did generate pick the arg-max of the student's own model there? Then the model is off."""
    context = got[row : row + 1, max(0, col - n_positions) : col]
    try:
        logits = expect_tensor(model(context.to(got.device)), "logits")
        own_choice = int(logits[0, -1].argmax())
    except (StudentError, CheckFailure, IndexError):
        return ""
    chosen = int(got[row, col])
    if own_choice == chosen:
        return ("Your generate follows your model's arg-max, so your model's predictions differ from the reference "
                "(see test_logits_match_reference)")
    # Evidence before advice: which context, or which position, did generate's choice come from?
    try:
        last_only = expect_tensor(model(context[:, -1:].to(got.device)), "logits")
        from_last_only = int(last_only[0, -1].argmax()) == chosen
        from_first = int(logits[0, 0].argmax()) == chosen and context.size(1) > 1
    except (StudentError, CheckFailure, IndexError):
        from_last_only = from_first = False
    if from_last_only and from_first:
        return (f"generate appended token {chosen}, both the arg-max after the last token alone and the arg-max of the "
                f"first position's logits (this context cannot tell which; after the whole context it is {own_choice}): "
                "feed the model the whole sequence so far (its last n_positions tokens), and take the last position's "
                "logits, logits[:, -1, :]")
    if from_last_only:
        return (f"generate appended token {chosen}, the arg-max after the last token alone, not after the whole context "
                f"(that is {own_choice}): feed the model the whole sequence so far (its last n_positions tokens), "
                "not only the newest token")
    if from_first:
        return (f"generate appended token {chosen}, the arg-max of the first position's logits: take the last "
                "position's, logits[:, -1, :]")
    return (f"Your model's arg-max after that context is token {own_choice}, but generate appended {chosen}: generate "
            "should feed the whole sequence so far (cropped to n_positions) and append the arg-max of the last position's logits")


def reference_run(reference, compute, ckpt: Checkpoint):
    """(the reference's output, the known mistakes' outputs) of ``compute(namespace)``."""
    try:
        return compute(reference), reference.diagnose(compute)
    except KitOutOfDate:
        if ckpt.folder.resolve() == TINY_CHECKPOINT.resolve():
            raise
        # A student kit replays reference outputs recorded on the tiny checkpoint only.
        raise KitOutOfDate(f"it has no reference outputs for {ckpt.folder}: in a student kit, --checkpoint "
                           "runs the weight checks only; grade on the tiny checkpoint for the rest") from None


def prompt_ids() -> list[int]:
    from grader.data import shared_gpt2_tokenizer

    ids = shared_gpt2_tokenizer().encode(PROMPT).ids
    if ids != PROMPT_IDS:
        raise RuntimeError(f"the GPT-2 tokenizer encodes {PROMPT!r} as {ids}, not {PROMPT_IDS}: data/gpt2_tokenizer is broken")
    return ids


def decode(ids: list[int]) -> str:
    from grader.data import shared_gpt2_tokenizer

    return shared_gpt2_tokenizer().decode(ids)


# --------------------------------------------------------------------------- loading


@pytest.mark.points(4)
def test_loaded_weights_match_checkpoint(student, checkpoint):
    model = load(student, checkpoint.folder)
    expect_state(model, checkpoint, f"load_gpt2({checkpoint.folder.name})")
    # The handout: "Return the model in eval mode" (a model with dropout would sample otherwise).
    expect(fetch(model.training) is False, f"load_gpt2({checkpoint.folder.name}) returned the model in training mode: "
                                    "call model.eval() before returning it")


@pytest.mark.points(2)
def test_lm_head_tied_to_wte(student, checkpoint):
    config = {k: checkpoint.config[k] for k in ("n_positions", "n_layer", "n_head", "layer_norm_epsilon")}
    fresh = student.GPT(student.GPTConfig(vocab_size=96, n_embd=checkpoint.config["n_embd"], **config))
    untied = "GPT(config) does not tie lm_head to wte: they must be one Parameter (self.lm_head.weight = self.wte.weight)"
    expect(fresh.lm_head.weight.data_ptr() == fresh.wte.weight.data_ptr(), untied)
    expect(_one_parameter(fresh), untied + "; sharing the data (.data = ...) leaves two Parameters, trained apart")
    model = load(student, checkpoint.folder)
    after_load = ("after load_gpt2, lm_head.weight is no longer the same Parameter as wte.weight: copy the tensors in "
                  "with load_state_dict (not assign=True, not new nn.Parameter objects), or tie them again after loading")
    expect(model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr(), after_load)
    expect(_one_parameter(model), after_load)


def _one_parameter(model: Remote) -> bool:
    """Whether ``model.lm_head.weight`` is ``model.wte.weight`` itself, not a second Parameter
    on the same data (equal data_ptr): switching wte's gradient off switches off lm_head's
    only if they are one object. Asks for a flag, never for the (vocab, n_embd) tensors."""
    model.wte.requires_grad_(False)
    return fetch(model.lm_head.weight.requires_grad) is False


@pytest.mark.points(2)
def test_hub_layout_without_prefix_with_mask_buffers(student, tiny):
    with tempfile.TemporaryDirectory(prefix="gpt2-hub-layout-") as tmp:
        model = load(student, write_variant(tiny, Path(tmp), prefix=False, mask_buffers=True))
        expect_state(model, tiny, "load_gpt2 on a checkpoint whose keys have no 'transformer.' prefix and which stores "
                                  "h.N.attn.bias / h.N.attn.masked_bias mask buffers (the layout of the Hub's gpt2)")


@pytest.mark.points(1)
def test_checkpoint_with_lm_head_weight(student, tiny):
    with tempfile.TemporaryDirectory(prefix="gpt2-lm-head-") as tmp:
        model = load(student, write_variant(tiny, Path(tmp), lm_head=True))
        expect_state(model, tiny, "load_gpt2 on a checkpoint that also stores lm_head.weight (a copy of wte.weight)")


@pytest.mark.points(2)
def test_pytorch_model_bin(student, tiny):
    with tempfile.TemporaryDirectory(prefix="gpt2-bin-") as tmp:
        model = load(student, write_variant(tiny, Path(tmp), lm_head=True, fmt="bin"))
        expect_state(model, tiny, "load_gpt2 on a folder with pytorch_model.bin instead of model.safetensors "
                                  "(read it with torch.load(path, map_location='cpu', weights_only=True))")


# --------------------------------------------------------------------------- running it


@pytest.mark.points(4)
def test_logits_match_reference(student, reference, checkpoint, generator, device):
    T = min(8, int(checkpoint.config["n_positions"]))
    idx = torch.randint(int(checkpoint.config["vocab_size"]), (2, T), generator=generator).to(device)

    def logits(ns):
        return _on(device, ns.gpt_from_hf(checkpoint.config, checkpoint.tensors))(idx)

    expected, mistakes = reference_run(reference, logits, checkpoint)
    model = _on(device, load(student, checkpoint.folder))
    expect_output(model(idx), expected, f"the logits of your loaded GPT for token ids of shape (2, {T})",
                  mistakes, model, checkpoint)


@pytest.mark.points(3)
def test_greedy_generation_matches_reference(student, reference, checkpoint, generator, device):
    # The prompt, then two tokens drawn per grading seed: a kit's recorded continuation of
    # seed 0's prompt does not answer instructor grading.
    extra = torch.randint(int(checkpoint.config["vocab_size"]), (2,), generator=generator).tolist()
    idx = torch.tensor([prompt_ids() + extra], device=device)
    n = min(20, int(checkpoint.config["n_positions"]) - idx.size(1))

    def continuation(ns):
        return ns.generate(_on(device, ns.gpt_from_hf(checkpoint.config, checkpoint.tensors)), idx, n)

    expected, mistakes = reference_run(reference, continuation, checkpoint)
    model = _on(device, load(student, checkpoint.folder))
    expect_tokens(student.generate(model, idx, n), expected, f"generate(model, {PROMPT!r} + tokens {extra}, {n})", mistakes, model,
                  int(checkpoint.config["n_positions"]), decode)


@pytest.mark.points(2)
def test_generate_crops_to_n_positions(student, reference, tiny, generator, device):
    n_positions = int(tiny.config["n_positions"])
    idx = torch.randint(int(tiny.config["vocab_size"]), (1, n_positions - 2), generator=generator).to(device)

    def continuation(ns):
        return ns.generate(_on(device, ns.gpt_from_hf(tiny.config, tiny.tensors)), idx, 6)

    expected = continuation(reference)
    mistakes = reference.diagnose(continuation)
    model = _on(device, load(student, tiny.folder))
    what = f"generate(model, {n_positions - 2} tokens, 6) with n_positions={n_positions}"
    try:
        got = student.generate(model, idx, 6)
    except StudentError as exc:
        if exc.type_name == "NotImplementedError" or not _about_positions(exc):
            raise  # not written yet, or a failure no context length explains: its own message says it
        raise CheckFailure(f"{what} failed: {exc}. {_why_long_contexts_fail(model, n_positions, device)}") from None
    expect_tokens(got, expected, what, mistakes, model, n_positions)


def _about_positions(exc: StudentError) -> bool:
    """Whether a failure could come from a context longer than the model's positions: an
    index past wpe's rows, or shapes that no longer match (a causal mask's buffer)."""
    return exc.type_name in ("IndexError", "RuntimeError") or "index" in str(exc).lower()


def _why_long_contexts_fail(model, n_positions: int, device) -> str:
    """The hint for a generate that raised once its context grew: cropping, unless the model
    itself fails on a full context of n_positions tokens (a valid input)."""
    full = torch.zeros(1, n_positions, dtype=torch.long).to(device)
    try:
        model(full)
    except StudentError:
        return (f"Your model itself fails on a context of exactly n_positions={n_positions} tokens, which it must "
                "accept: look at the positions forward builds (0 to T-1)")
    return ("Feed the model only the last n_positions tokens (idx[:, -n_positions:]): wpe has no rows for "
            "later positions")
