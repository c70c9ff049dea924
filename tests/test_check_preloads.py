"""ExerciseSpec.check_preloads: data the checks share, loaded once per batch slot."""

import importlib

from grader.batch import slot as slot_module
from grader.registry import load_registry


def test_every_preload_names_a_function_that_runs():
    targets = [t for spec in load_registry().ordered() for t in spec.check_preloads]
    assert targets, "the course preloads the GPT-2 tokenizer and the NER corpus"
    for target in targets:
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target
        slot_module._call_preload(target)


def test_a_failing_preload_is_left_to_the_checks(capsys):
    slot_module._call_preload("grader.data:no_such_function")
    slot_module._call_preload("no_such_module:f")
    assert "AttributeError" in capsys.readouterr().err


def test_shared_data_reaches_each_caller_as_its_own_copy():
    from exercises.ner_head.ner_data import encode_words, ner_split

    first = ner_split("test")
    first[0].words.append("MUTATED")
    first.clear()
    assert ner_split("test") and "MUTATED" not in ner_split("test")[0].words
    enc = encode_words(["Hello", "world"])
    enc.ids.append(-1)
    assert encode_words(["Hello", "world"]).ids == [15496, 995]
