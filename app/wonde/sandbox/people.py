"""New pupils: realistic names and the identifiers an MIS gives them (mis_id, admission number, UPN, UPI).

Shared by the generator (a whole school) and the events (a joiner, an intake), so a pupil who joins
later looks exactly like one who was there from the start.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.wonde.sandbox.names import ENGLISH, ORIGINS, PREFERRED_FORENAMES, Origin
from app.wonde.sandbox.records import SandboxSchool, Student
from app.wonde.sandbox.years import nc_code

PREFERRED_NAME_RATE = 0.10
OTHER_SURNAME_RATE = 0.01
DOUBLE_BARRELLED_RATE = 0.05
MIDDLE_NAMES_RATE = 0.40
# Check letters of a UPN: the alphabet without I, O and S (DfE "Unique pupil numbers" guidance).
_UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"

FullName = tuple[str | None, str | None]  # (forename, surname)


@dataclass
class PupilNames:
    forename: str
    surname: str
    legal_forename: str
    legal_surname: str
    middle_names: str | None
    girl: bool = False


def draw_origin(rng: random.Random) -> Origin:
    return rng.choices(ORIGINS, weights=[origin.weight for origin in ORIGINS])[0]


def draw_surname(rng: random.Random, origin: Origin) -> str:
    """A family surname; about one in twenty is double-barrelled ("Smith-Jones")."""
    surname = rng.choice(origin.surnames)
    if rng.random() < DOUBLE_BARRELLED_RATE:
        other = rng.choice(rng.choice((origin, ENGLISH)).surnames)
        if other != surname and " " not in surname + other:
            return f"{surname}-{other}"
    return surname


def draw_names(
    rng: random.Random, origin: Origin, surname: str, girl: bool, sibling: PupilNames | None = None
) -> PupilNames:
    """A child's names in a family of ``origin``. About one in ten is known by a forename other than the
    legal one (Alex for Alexander, Zoe for Zoë) and four in ten have middle names. A twin (``sibling``
    given) shares the surname and never the forename."""
    names_origin = origin if rng.random() < 0.8 else ENGLISH
    pool = [name for name in (names_origin.girls if girl else names_origin.boys) if not _same_name(name, sibling)]
    legal_forename = rng.choice(pool)
    forename = legal_forename
    if rng.random() < PREFERRED_NAME_RATE:
        english = ENGLISH.girls if girl else ENGLISH.boys
        known_as = [name for name in pool if name in PREFERRED_FORENAMES] or [
            name for name in english if name in PREFERRED_FORENAMES and not _same_name(name, sibling)
        ]
        legal_forename = rng.choice(known_as)
        forename = PREFERRED_FORENAMES[legal_forename]
    middle_names = None
    if rng.random() < MIDDLE_NAMES_RATE:
        others = [name for name in pool if name not in (legal_forename, forename)]
        middle_names = " ".join(rng.sample(others, k=1 if rng.random() < 0.85 else 2))
    return PupilNames(forename, surname, legal_forename, surname, middle_names, girl)


def _same_name(name: str, sibling: PupilNames | None) -> bool:
    if sibling is None:
        return False
    return name in (sibling.forename, sibling.legal_forename) or PREFERRED_FORENAMES.get(name) == sibling.forename


def draw_family(rng: random.Random, twins: bool, taken: set[FullName]) -> list[PupilNames]:
    """A new pupil, or twins, whose full names nobody in ``taken`` has (``taken`` is updated): unrelated
    pupils sharing a name are rare, and the generator makes its one such pair on purpose."""
    for _ in range(100):
        family = list(_draw_twins(rng)) if twins else [_draw_pupil(rng)]
        names = {(pupil.forename, pupil.surname) for pupil in family}
        if not names & taken:
            break
    taken |= names
    return family


def full_names(school: SandboxSchool) -> set[FullName]:
    return {(student.forename, student.surname) for student in school.students.values()}


def _draw_pupil(rng: random.Random) -> PupilNames:
    """One child of a new family; a few are known by a surname other than their legal one."""
    origin = draw_origin(rng)
    names = draw_names(rng, origin, draw_surname(rng, origin), girl=rng.random() < 0.5)
    if rng.random() < OTHER_SURNAME_RATE:
        names.legal_surname = rng.choice([name for name in origin.surnames if name != names.surname])
    return names


def _draw_twins(rng: random.Random) -> tuple[PupilNames, PupilNames]:
    """Twins: one surname, two different forenames."""
    origin = draw_origin(rng)
    surname = draw_surname(rng, origin)
    first = draw_names(rng, origin, surname, girl=rng.random() < 0.5)
    return first, draw_names(rng, origin, surname, girl=rng.random() < 0.5, sibling=first)


def upn(la_code: str, establishment_number: str, year_allocated: int, serial: int) -> str:
    """A 13-character Unique Pupil Number: check letter, LA, establishment, year allocated, serial."""
    digits = f"{la_code[-3:]:0>3}{establishment_number[-4:]:0>4}{year_allocated % 100:02d}{serial % 1000:03d}"
    check = sum(int(digit) * weight for weight, digit in enumerate(digits, start=2)) % 23
    return _UPN_CHECK_LETTERS[check] + digits


def upi(school_id: str, mis_id: str) -> str:
    """Wonde's Unique Person Identifier: a 32-hex hash of the school and the MIS id."""
    return hashlib.blake2b(f"{school_id}:{mis_id}".encode(), digest_size=16).hexdigest()


def initials(forename: str | None, surname: str | None) -> str:
    return "".join(name[0] for name in (forename, surname) if name)


def new_student(
    school: SandboxSchool,
    names: PupilNames,
    year: int,
    now: datetime,
    admitted: date,
    upn_establishment: str | None = None,
    born: date | None = None,
) -> Student:
    """A pupil record with fresh ids; the caller adds it to the school and places it in forms and classes.
    ``born`` is a twin's date of birth; otherwise one is drawn inside the school year of ``year``."""
    mis_id = school.new_mis_id()
    admission = school.next_admission
    school.next_admission += 1
    la_code = str(school.info.get("la_code") or "999")
    establishment = upn_establishment or str(school.info.get("establishment_number") or "9999")
    # UPNs are allocated when a child starts school, so the year digits are those of their Reception year.
    started_school = (now.year if now.month >= 9 else now.year - 1) - year
    serial = admission
    while (code := upn(la_code, establishment, started_school, serial)) in school.upns:
        serial += 1
    school.upns.add(code)
    return Student(
        id=school.new_id(),
        upi=upi(school.id, mis_id),
        mis_id=mis_id,
        forename=names.forename,
        surname=names.surname,
        legal_forename=names.legal_forename,
        legal_surname=names.legal_surname,
        middle_names=names.middle_names,
        initials=initials(names.forename, names.surname),
        created_at=now,
        updated_at=now,
        admission_number=f"{admission:06d}",
        upn=code,
        learner_number=f"{school.rng.randrange(10**9, 10**10)}" if year >= 10 else None,
        nc_year=nc_code(year),
        admission_date=admitted,
        gender="FEMALE" if names.girl else "MALE",
        date_of_birth=born or birth_date(f"{school.id}/{mis_id}", year, now),
    )


def birth_date(key: str, year: int, now: datetime) -> date:
    """A birthday that puts a child in National Curriculum ``year`` in the school year of ``now`` (born
    between 1 September and 31 August: Reception children turn five during it). Drawn from a hash of
    ``key``, not the school's generator, so adding it changed no other generated value."""
    school_year = now.year if now.month >= 9 else now.year - 1
    first = date(school_year - year - 5, 9, 1)
    days = (date(first.year + 1, 9, 1) - first).days
    return first + timedelta(days=int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % days)
