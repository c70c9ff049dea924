"""The transitive closure of ``ExerciseSpec.requires``: one helper (grader.spec.required_modules)
behind both the exercises graded with a submission (grader.api.with_requirements) and the
modules one exercise's worker gets (grader.runner._Transports)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from grader.api import with_requirements
from grader.registry import Registry
from grader.runner import _Transports
from grader.spec import ExerciseSpec, required_modules


def spec(name: str, *requires: str, order: int = 0) -> ExerciseSpec:
    return ExerciseSpec(name, name.title(), order, name, Path(f"{name}.py"), (), requires=requires)


def known(*specs: ExerciseSpec) -> dict[str, ExerciseSpec]:
    return {s.module: s for s in specs}


def test_a_chain_is_followed_to_its_end_nearest_first():
    a, b, c, d = spec("a", "b"), spec("b", "c"), spec("c", "d"), spec("d")
    assert required_modules([a], known(a, b, c, d)) == ["b", "c", "d"]
    assert required_modules([d], known(a, b, c, d)) == []


def test_a_diamond_lists_the_shared_module_once():
    top, left, right, base = spec("top", "left", "right"), spec("left", "base"), spec("right", "base"), spec("base")
    assert required_modules([top], known(top, left, right, base)) == ["left", "right", "base"]


def test_a_cycle_ends_and_never_lists_the_root():
    a, b, c = spec("a", "b"), spec("b", "c"), spec("c", "a")
    assert required_modules([a], known(a, b, c)) == ["b", "c"]
    selfish = spec("selfish", "selfish")
    assert required_modules([selfish], known(selfish)) == []


def test_an_unknown_module_is_listed_but_not_followed():
    a = spec("a", "ghost", "b")
    b = spec("b")
    assert required_modules([a], known(a, b)) == ["ghost", "b"]


def test_several_roots_share_one_closure_in_course_order():
    a, b, c, d, e = spec("a", "c"), spec("b", "e"), spec("c", "d"), spec("d"), spec("e")
    # breadth-first over all roots: both roots' direct requirements before c's
    assert required_modules([a, b], known(a, b, c, d, e)) == ["c", "e", "d"]
    assert required_modules([a, c], known(a, b, c, d, e)) == ["d"]


def test_with_requirements_adds_known_exercises_and_skips_unknown_ones():
    a, b, c = spec("a", "b", "ghost", order=3), spec("b", "c", "a", order=2), spec("c", order=1)
    registry = Registry({s.name: s for s in (a, b, c)})
    assert with_requirements([a], registry) == [a, b, c]
    assert with_requirements([c], registry) == [c]


def test_a_worker_gets_its_module_and_the_closure_of_its_requires():
    a, b, c = spec("a", "b", "ghost"), spec("b", "c", "a"), spec("c")
    transports = SimpleNamespace(support=known(a, b, c))
    assert _Transports._modules_of(transports, a) == {"a", "b", "c", "ghost"}
    assert _Transports._modules_of(transports, c) == {"c"}


def test_the_course_chain():
    from grader.registry import load_registry

    registry = load_registry()
    gpt2 = registry.get("gpt2_loading")
    assert required_modules([gpt2], {s.module: s for s in registry.ordered()}) == ["decoder_block", "attention", "softmax"]
    assert [s.name for s in with_requirements([gpt2], registry)] == [
        "gpt2_loading", "decoder_block", "attention", "softmax"]  # fmt: skip
