"""Name normalisation and comparison, scored as evidence in bits (Fellegi–Sunter, weights by hand).

Each comparison of a typed name with an MIS name falls into one level, best first:

    exact      log2(0.9 / share of that name in this school's roll): rare names say more than common
    nickname   +6   (a group in data/forenames.csv: Alfie ~ Alfred, Mohammed ~ Muhammad)
    fuzzy      +5   (one typo: OSA distance 1 on names of 4+ letters, or Jaro–Winkler ≥ 0.93)
    prefix     +4.5 forename / +4 surname (a truncation of 3+ letters: Alex ~ Alexander)
    phonetic   +4   (same Metaphone code and first letter: Smith ~ Smyth)
    initial    +1.5 (a single letter that agrees)
    different  −6 forename / −9 surname
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import jellyfish
from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler

DATA = Path(__file__).resolve().parent / "data"
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")

NICKNAME_BITS = 6.0
FUZZY_BITS = 5.0
PREFIX_BITS = {"forename": 4.5, "surname": 4.0}
PHONETIC_BITS = 4.0
INITIAL_BITS = 1.5
DIFFERENT_BITS = {"forename": -6.0, "surname": -9.0}
MAX_NAME_LENGTH = 100  # longer input is cut: no child's name is longer, and it bounds the work


@lru_cache(maxsize=1 << 16)
def normalise(name: str | None) -> str:
    """ASCII, lower case, letters and single spaces only: "Zoë O'Brien-Smith" -> "zoe obrien smith"."""
    if not name:
        return ""
    text = anyascii(name[:MAX_NAME_LENGTH]).casefold().replace("-", " ")
    text = _NOT_LETTERS.sub("", text.replace("'", "").replace("’", ""))
    return _SPACES.sub(" ", text).strip()


@cache
def _nickname_groups() -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    lines = (DATA / "forenames.csv").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            for name in line.split(","):
                groups.setdefault(normalise(name).replace(" ", ""), set()).add(number)
    return {name: frozenset(ids) for name, ids in groups.items()}


_NO_GROUPS: frozenset[int] = frozenset()
_GROUPS = _nickname_groups()


def nickname_match(a: str, b: str) -> bool:
    first = _GROUPS.get(a)
    return first is not None and not first.isdisjoint(_GROUPS.get(b, _NO_GROUPS))


def nickname_groups_of(name: str) -> frozenset[int]:
    return _GROUPS.get(name, _NO_GROUPS)


@cache
def metaphone(token: str) -> str:
    return jellyfish.metaphone(token) if token else ""


@dataclass(frozen=True)
class Level:
    name: str
    bits: float


class NameFrequencies:
    """How common each name is in this school's MIS roll: the u of an exact match."""

    def __init__(self, forenames: Iterable[str], surnames: Iterable[str], roll_size: int) -> None:
        self.size = max(roll_size, 1)
        self.forenames = Counter(forenames)
        self.surnames = Counter(surnames)

    def exact_bits(self, kind: str, token: str) -> float:
        counts = self.forenames if kind == "forename" else self.surnames
        share = max(counts.get(token, 0), 1) / self.size
        return math.log2(0.9 / share)


_MISSING = Level("missing", 0.0)
_INITIAL = Level("initial", INITIAL_BITS)
_NICKNAME = Level("nickname", NICKNAME_BITS)
_FUZZY = Level("fuzzy", FUZZY_BITS)
_PHONETIC = Level("phonetic", PHONETIC_BITS)
_PREFIX = {kind: Level("prefix", bits) for kind, bits in PREFIX_BITS.items()}
_DIFFERENT = {kind: Level("different", bits) for kind, bits in DIFFERENT_BITS.items()}


def compare(kind: str, typed: str, known: str, frequencies: NameFrequencies) -> Level:
    """The level of a typed name token against one known MIS name token (both normalised, no spaces)."""
    if not typed or not known:
        return _MISSING
    if typed == known:
        return Level("exact", frequencies.exact_bits(kind, known))
    if len(typed) == 1:
        return _INITIAL if known[0] == typed else _DIFFERENT[kind]
    if kind == "forename" and nickname_match(typed, known):
        return _NICKNAME
    if (
        len(typed) >= 4
        and len(known) >= 4
        and (OSA.distance(typed, known, score_cutoff=1) <= 1 or JaroWinkler.similarity(typed, known, score_cutoff=0.93))
    ):
        return _FUZZY
    if len(typed) >= 3 and known.startswith(typed):
        return _PREFIX[kind]
    if typed[0] == known[0] and len(typed) >= 3 and metaphone(typed) == metaphone(known):
        return _PHONETIC
    return _DIFFERENT[kind]
