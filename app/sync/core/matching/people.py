"""The names of one app pupil and one MIS student, normalised once, and the evidence between them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property

from app.sync.core.matching.names import MAX_NAME_LENGTH, PREFIX_BITS, Level, NameFrequencies, compare, normalise
from app.sync.core.matching.types import AppPupil, MisStudent

SWAP_PENALTY = 2.0  # first and last name typed the wrong way round
PART_PENALTY = 1.0  # one part of a double-barrelled name, or a name typed with an extra part


def _joined(name: str) -> str:
    return name.replace(" ", "")


def _input_problems(*names: str) -> tuple[str, ...]:
    """Why typed names cannot be trusted for an automatic link, whatever they score."""
    problems = []
    if any(not normalise(name) for name in names):
        problems.append("a name is empty or only punctuation")
    if any(len(name) > MAX_NAME_LENGTH for name in names):
        problems.append("a name is implausibly long")
    if any(char.isalpha() and not unicodedata.name(char, "").startswith("LATIN") for name in names for char in name):
        problems.append("a name is written in a non-Latin script: compared through transliteration only")
    return tuple(problems)


@dataclass(frozen=True)
class TypedName:
    """An app pupil's two typed names."""

    forename: str
    forename_parts: tuple[str, ...]
    surname: str
    surname_parts: tuple[str, ...]
    problems: tuple[str, ...] = ()

    @classmethod
    def of(cls, pupil: AppPupil) -> TypedName:
        first, last = normalise(pupil.first_name), normalise(pupil.last_name)
        problems = _input_problems(pupil.first_name, pupil.last_name)
        return cls(_joined(first), tuple(first.split()), _joined(last), tuple(last.split()), problems)

    @property
    def initial_only(self) -> bool:
        return len(self.forename) <= 1


@dataclass(frozen=True)
class KnownName:
    """Every name the MIS holds for a student: preferred and legal, whole and in parts, and middle names."""

    forenames: tuple[str, ...]
    forename_parts: tuple[str, ...]
    middles: tuple[str, ...]
    surnames: tuple[str, ...]
    surname_parts: tuple[str, ...]

    @cached_property
    def forename_initials(self) -> set[str]:
        return {name[0] for name in self.forenames + self.forename_parts + self.middles}

    @cached_property
    def surname_initials(self) -> set[str]:
        return {name[0] for name in self.surnames + self.surname_parts}

    @classmethod
    def of(cls, student: MisStudent) -> KnownName:
        firsts = [normalise(n) for n in (student.forename, student.legal_forename) if n]
        lasts = [normalise(n) for n in (student.surname, student.legal_surname) if n]
        firsts, lasts = [n for n in firsts if n], [n for n in lasts if n]

        def unique(items: list[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(i for i in items if i))

        return cls(
            forenames=unique([_joined(n) for n in firsts]),
            forename_parts=unique([p for n in firsts if " " in n for p in n.split()]),
            middles=unique(normalise(student.middle_names).split()),
            surnames=unique([_joined(n) for n in lasts]),
            surname_parts=unique([p for n in lasts if " " in n for p in n.split()]),
        )


@dataclass(frozen=True)
class NameEvidence:
    bits: float
    forename: Level
    surname: Level
    swapped: bool

    def describe(self, typed: TypedName) -> tuple[str, ...]:
        order = "names typed the wrong way round; " if self.swapped else ""
        return (
            f"{order}first name {typed.forename or '?'}: {self.forename.name} ({self.forename.bits:+.1f})",
            f"surname {typed.surname or '?'}: {self.surname.name} ({self.surname.bits:+.1f})",
        )


class NameScorer:
    """Compares names with a cache: a school has far fewer distinct names than pairs of pupils."""

    def __init__(self, frequencies: NameFrequencies) -> None:
        self.frequencies = frequencies
        self._cache: dict[tuple[str, str, str], Level] = {}

    def level(self, kind: str, typed: str, known: str) -> Level:
        key = (kind, typed, known)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = compare(kind, typed, known, self.frequencies)
        return found

    def _best(
        self, kind: str, typed: str, typed_parts: tuple[str, ...], wholes: tuple[str, ...], parts: tuple[str, ...]
    ) -> Level:
        best = Level("different", -99.0)
        for known in wholes:
            level = self.level(kind, typed, known)
            if level.bits > best.bits:
                best = level
        # One part of a multi-part name (typed or known) agreeing is a little weaker than the whole.
        for known in parts:
            level = self.level(kind, typed, known)
            if level.bits - PART_PENALTY > best.bits and level.bits > 0:
                best = Level(f"{level.name} (one part)", level.bits - PART_PENALTY)
        if len(typed_parts) > 1:
            for part in typed_parts:
                for known in wholes:
                    level = self.level(kind, part, known)
                    if level.bits - PART_PENALTY > best.bits and level.bits > 0:
                        best = Level(f"{level.name} (one part)", level.bits - PART_PENALTY)
        return best

    def forename(self, typed: TypedName, known: KnownName) -> Level:
        best = self._best("forename", typed.forename, typed.forename_parts, known.forenames, known.forename_parts)
        if typed.forename in known.middles and PREFIX_BITS["forename"] > best.bits:
            best = Level("middle name", PREFIX_BITS["forename"])
        return best

    def surname(self, typed: TypedName, known: KnownName) -> Level:
        return self._best("surname", typed.surname, typed.surname_parts, known.surnames, known.surname_parts)

    def names(self, typed: TypedName, known: KnownName) -> NameEvidence:
        forename, surname = self.forename(typed, known), self.surname(typed, known)
        straight = NameEvidence(forename.bits + surname.bits, forename, surname, swapped=False)
        if forename.bits > 0 and surname.bits > 0:
            return straight
        # The wrong way round can only help when each typed name starts like one of the other kind.
        if not (typed.surname[:1] in known.forename_initials and typed.forename[:1] in known.surname_initials):
            return straight
        swapped_typed = TypedName(
            typed.surname, typed.surname_parts, typed.forename, typed.forename_parts, typed.problems
        )
        forename2, surname2 = self.forename(swapped_typed, known), self.surname(swapped_typed, known)
        swapped = NameEvidence(forename2.bits + surname2.bits - SWAP_PENALTY, forename2, surname2, swapped=True)
        return swapped if swapped.bits > straight.bits else straight
