"""Generated schools: a realistic primary or secondary school as a Wonde dump, the same for the same seed.

Everything is drawn from one generator seeded by (phase, pupils, seed) and stamped relative to a
fixed moment (GENERATED_AT), so a dump can be compared byte for byte across runs; every sandbox
event after loading happens later than any generated timestamp.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from app.wonde.sandbox.dump import school_dump
from app.wonde.sandbox.names import TREES
from app.wonde.sandbox.people import FullName, PupilNames, draw_family, new_student
from app.wonde.sandbox.records import Group, MisClass, SandboxSchool, Student
from app.wonde.sandbox.school_info import school_info
from app.wonde.sandbox.staffing import Staffing, add_subjects
from app.wonde.sandbox.state import DEFAULT_DOMAIN, school_token
from app.wonde.sandbox.years import nc_code, year_code, year_name

Phase = Literal["primary", "secondary"]
Unit = list[Student]  # one pupil, or a pair of twins: always placed together

GENERATED_AT = datetime(2025, 9, 3, 6, 0, tzinfo=UTC)
TERM_START = datetime(2025, 9, 1, 7, 0, tzinfo=UTC)
MAX_PUPILS = 3000  # about the largest school in England; form letters run out beyond it
TWIN_PAIRS_PER_PUPIL = 0.0075  # 1.5% of pupils are twins
SAME_NAME_PAIR_FROM = 500  # schools this big have two unrelated pupils with the same name
SIXTH_FORM_FROM = 1500
IN_YEAR_ADMISSION_RATE = 0.08
FORM_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def generate_school(phase: Phase, pupils: int, seed: int, personal_details: bool = True) -> dict[str, Any]:
    """A Wonde school dump (see ``dump.py``) of a school with ``pupils`` pupils; deterministic for a seed.
    A generated school grants its pupils' gender and dates of birth unless ``personal_details`` is off."""
    return school_dump(build_school(phase, pupils, seed, personal_details), DEFAULT_DOMAIN)


def build_school(phase: Phase, pupils: int, seed: int, personal_details: bool = True) -> SandboxSchool:
    if phase not in ("primary", "secondary"):
        raise ValueError(f"phase must be primary or secondary, not {phase!r}")
    if not 1 <= pupils <= MAX_PUPILS:
        raise ValueError(f"pupils must be between 1 and {MAX_PUPILS}")
    rng = random.Random(f"bandsync-sandbox/{phase}/{pupils}/{seed}")  # noqa: S311 (test data, not secrets)
    school_id = f"A{rng.randrange(10**8, 10**10)}"
    connected = datetime(2019, 1, 7, 9, tzinfo=UTC) + timedelta(minutes=rng.randrange(4 * 365 * 24 * 60))
    info = school_info(rng, school_id, phase, connected)
    school = SandboxSchool(info=info, token=school_token(school_id), rng=rng, used_ids={school_id})
    school.personal_details = personal_details
    school.next_mis_id = rng.randrange(1000, 9000)
    school.next_admission = rng.randrange(1, 3000)
    _Builder(school, rng, phase, connected).build(pupils)
    return school


def split(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` shared in proportion to ``weights``, summing exactly to ``total`` (largest remainders)."""
    shares = [total * weight / sum(weights) for weight in weights]
    counts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def deal(units: Sequence[Unit], bins: int) -> list[list[Unit]]:
    """Units dealt one by one to whichever bin is smallest so far: even sizes, twins kept together."""
    dealt: list[list[Unit]] = [[] for _ in range(bins)]
    sizes = [0] * bins
    for unit in units:
        smallest = min(range(bins), key=lambda i: (sizes[i], i))
        dealt[smallest].append(unit)
        sizes[smallest] += len(unit)
    return dealt


def chunk(units: Sequence[Unit], bins: int) -> list[list[Unit]]:
    """Units cut, in order, into ``bins`` runs of nearly equal size: ability sets from a ranked list."""
    total = sum(len(unit) for unit in units)
    runs: list[list[Unit]] = [[] for _ in range(bins)]
    seen = 0
    for unit in units:
        runs[min(bins - 1, seen * bins // total)].append(unit)
        seen += len(unit)
    return runs


class _Builder:
    """Builds the years of one school: pupils, forms, YEAR groups and classes; then subjects and staff."""

    def __init__(self, school: SandboxSchool, rng: random.Random, phase: Phase, connected: datetime) -> None:
        self.school = school
        self.rng = rng
        self.phase = phase
        self.connected = connected
        self.prefixed_year_codes = rng.random() < 0.5
        self.feeders = [str(rng.randrange(2000, 3999)) for _ in range(6)]
        self.subjects = {name: school.new_id() for name in ("Maths", "English", "Science", "Class")}
        self.tree_names: list[str] = []
        self.taken: set[FullName] = set()

    def build(self, pupils: int) -> None:
        years = list(range(0, 7)) if self.phase == "primary" else list(range(7, 12))
        if self.phase == "secondary" and pupils > SIXTH_FORM_FROM:
            years += [12, 13]
        sizes = split(pupils, [0.55 if year >= 12 else 1.0 for year in years])
        twin_pairs = split(round(pupils * TWIN_PAIRS_PER_PUPIL) if pupils >= 60 else 0, sizes)
        cap = 30 if self.phase == "primary" else 28
        form_counts = [math.ceil(size / cap) for size in sizes]
        trees = self.phase == "primary" and sum(form_counts) <= len(TREES) and self.rng.random() < 0.5
        self.tree_names = self.rng.sample(TREES, k=sum(form_counts)) if trees else []
        cohorts = [
            self._year(year, size, pairs, forms)
            for year, size, pairs, forms in zip(years, sizes, twin_pairs, form_counts, strict=True)
        ]
        if pupils >= SAME_NAME_PAIR_FROM:
            self._same_name_pair(max(cohorts, key=lambda forms: sum(len(unit) for f in forms for unit in f)))
        add_subjects(self.school, self.subjects, self.connected)
        Staffing(self.school, self.rng, self.connected, TERM_START).staff(self.phase)

    def _year(self, year: int, size: int, twin_pairs: int, form_count: int) -> list[list[Unit]]:
        if size == 0:
            return []
        pairs = min(twin_pairs, size // 2)
        units = [self._unit(year, names) for names in self._cohort_names(size, pairs)]
        # Twins are dealt first so that no form ends up over its cap; everyone else in random order.
        twins, singles = units[:pairs], units[pairs:]
        forms = deal(twins + self.rng.sample(singles, k=len(singles)), form_count)
        label = year_name(year)
        year_group = self._group(label, year_code(year, self.prefixed_year_codes), "YEAR", label, year)
        year_group.created_at = self.connected
        form_names = self._form_names(year, form_count)
        for name, members in zip(form_names, forms, strict=True):
            self._group(name, name, "REGISTRATION", f"{name} Registration", year, members)
            self._link(year_group, members)
        if self.phase == "primary":
            for name, members in zip(form_names, forms, strict=True):
                self._class(name, f"{name} class", "Class", year, members)
        else:
            self._secondary_classes(year, form_names, forms)
        return forms

    def _cohort_names(self, size: int, twin_pairs: int) -> list[list[PupilNames]]:
        families = [draw_family(self.rng, True, self.taken) for _ in range(twin_pairs)]
        return families + [draw_family(self.rng, False, self.taken) for _ in range(size - 2 * twin_pairs)]

    def _unit(self, year: int, family: list[PupilNames]) -> Unit:
        entry_year = TERM_START.year - (year if self.phase == "primary" else year - 7)
        admitted = date(entry_year, 9, self.rng.randint(2, 6))
        if entry_year < TERM_START.year and self.rng.random() < IN_YEAR_ADMISSION_RATE:
            admitted += timedelta(days=self.rng.randrange(30, (TERM_START.date() - admitted).days))
        created = max(datetime(admitted.year, admitted.month, admitted.day, 7, tzinfo=UTC), self.connected)
        created += timedelta(seconds=self.rng.randrange(3600))
        feeder = None if self.phase == "primary" else self.rng.choice(self.feeders)
        unit = [new_student(self.school, names, year, GENERATED_AT, admitted, feeder) for names in family]
        for twin in unit[1:]:
            twin.date_of_birth = unit[0].date_of_birth
        for student in unit:
            student.created_at = created
            student.updated_at = max(student.created_at, TERM_START) + timedelta(seconds=self.rng.randrange(36 * 3600))
            self.school.students[student.id] = student
        return unit

    def _form_names(self, year: int, count: int) -> list[str]:
        if self.tree_names:
            return [self.tree_names.pop() for _ in range(count)]
        if self.phase == "primary":  # "3B": the year and the class teacher's initial
            return [f"{nc_code(year)}{letter}" for letter in sorted(self.rng.sample(FORM_LETTERS, k=count))]
        return [f"{year}{FORM_LETTERS[i]}" for i in range(count)]

    def _secondary_classes(self, year: int, form_names: list[str], forms: list[list[Unit]]) -> None:
        """Maths in ability sets and science in mixed classes, both within the x and y halves of the
        year; English taught in forms."""
        half = (len(forms) + 1) // 2
        for band, band_forms in (("x", forms[:half]), ("y", forms[half:])):
            units = [unit for form in band_forms for unit in form]
            if not units:
                continue
            size = sum(len(unit) for unit in units)
            ranked = self.rng.sample(units, k=len(units))  # in order of (drawn) ability
            for i, members in enumerate(chunk(ranked, math.ceil(size / 25)), start=1):
                self._class(f"{year}{band}/Ma{i}", f"{year}{band} Maths set {i}", "Maths", year, members)
            mixed = self.rng.sample(units, k=len(units))
            for i, members in enumerate(deal(mixed, math.ceil(size / 28)), start=1):
                self._class(f"{year}{band}/Sc{i}", f"{year}{band} Science {i}", "Science", year, members)
        for name, members in zip(form_names, forms, strict=True):
            self._class(f"{name}/En", f"{name} English", "English", year, members)

    def _stamp(self) -> tuple[datetime, datetime]:
        created = TERM_START + timedelta(seconds=self.rng.randrange(3600))
        return created, created + timedelta(seconds=self.rng.randrange(3600))

    def _group(
        self, name: str, code: str, kind: str, description: str, year: int, members: list[Unit] | None = None
    ) -> Group:
        created, updated = self._stamp()
        group = Group(self.school.new_id(), self.school.new_mis_id(), name, kind, created, updated, code, description)
        group.year = year
        self.school.groups[group.id] = group
        self._link(group, members or [])
        return group

    def _class(self, name: str, description: str, subject: str, year: int, members: list[Unit]) -> None:
        created, updated = self._stamp()
        record = MisClass(self.school.new_id(), self.school.new_mis_id(), name, created, updated)
        record.description = description
        record.subject = self.subjects[subject]
        record.year = year
        self.school.classes[record.id] = record
        for unit in members:
            for student in unit:
                self.school.class_links.add(record.id, student.id)

    def _link(self, group: Group, members: list[Unit]) -> None:
        for unit in members:
            for student in unit:
                self.school.group_links.add(group.id, student.id)

    def _same_name_pair(self, forms: list[list[Unit]]) -> None:
        """Give one pupil the full name of an unrelated pupil in another form of the same year."""
        singles = [[unit[0] for unit in form if len(unit) == 1] for form in forms]
        first_form, second_form = (0, 1) if len(forms) > 1 else (0, 0)
        if len(singles[second_form]) < 2:
            return
        original, namesake = singles[first_form][0], singles[second_form][-1]
        namesake.forename, namesake.surname = original.forename, original.surname
        namesake.legal_forename, namesake.legal_surname = original.legal_forename, original.legal_surname
        namesake.initials = original.initials
