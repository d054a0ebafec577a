"""The records of one sandbox school, held as Wonde holds them: by Wonde id, with timestamps.

Only what the API serves is kept. A pupil's gender and date of birth are kept but shown only while the
school grants the app those details (``personal_details``); otherwise they are null, as Wonde shows them
to a token without the scope. ``year`` on classes and
groups is the sandbox's own bookkeeping (Wonde has no such field) so events can find a year's forms.
Staff are employees linked to classes (``class_staff``, with one main teacher per class) and to
registration groups (``group_staff``, the form tutors).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class Student:
    id: str
    upi: str
    mis_id: str
    forename: str | None
    surname: str | None
    legal_forename: str | None
    legal_surname: str | None
    middle_names: str | None
    created_at: datetime
    updated_at: datetime
    title: str | None = None
    initials: str | None = None
    admission_number: str | None = None
    upn: str | None = None
    local_upn: str | None = None
    former_upn: str | None = None
    learner_number: str | None = None
    nc_year: str | None = None
    part_time: bool | None = False
    admission_date: date | None = None
    leaving_date: date | None = None
    restored_at: datetime | None = None
    gender: str | None = None  # "MALE" or "FEMALE"
    date_of_birth: date | None = None


@dataclass
class MisClass:
    id: str
    mis_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    code: str | None = None
    description: str | None = None
    subject: str | None = None
    alternative: str | None = None
    restored_at: datetime | None = None
    year: int | None = None


@dataclass
class Group:
    id: str
    mis_id: str
    name: str
    type: str
    created_at: datetime
    updated_at: datetime
    code: str | None = None
    description: str | None = None
    year: int | None = None


@dataclass
class Employee:
    """A member of staff; ``email`` is what ``contact_details`` shows."""

    id: str
    upi: str
    mis_id: str
    forename: str | None
    surname: str | None
    created_at: datetime
    updated_at: datetime
    title: str | None = None
    initials: str | None = None
    middle_names: str | None = None
    legal_forename: str | None = None
    legal_surname: str | None = None
    email: str | None = None
    restored_at: datetime | None = None


@dataclass
class Subject:
    id: str
    mis_id: str
    code: str | None
    name: str
    created_at: datetime
    updated_at: datetime
    active: bool = True


@dataclass
class Deletion:
    """One row of ``/deletions``: a top-level record that left the MIS, and when it came back if it did."""

    type: str
    id: str
    mis_id: str | None
    deleted_at: datetime
    restored_at: datetime | None = None

    @property
    def changed_at(self) -> datetime:
        """When the row last changed, which is what ``updated_after`` filters on."""
        return max(self.deleted_at, self.restored_at) if self.restored_at else self.deleted_at


class Links:
    """A many-to-many relation kept in both directions (owner id <-> student id, or employee id)."""

    def __init__(self) -> None:
        self.members: defaultdict[str, set[str]] = defaultdict(set)
        self.owners: defaultdict[str, set[str]] = defaultdict(set)

    def add(self, owner_id: str, student_id: str) -> None:
        self.members[owner_id].add(student_id)
        self.owners[student_id].add(owner_id)

    def remove(self, owner_id: str, student_id: str) -> None:
        self.members[owner_id].discard(student_id)
        self.owners[student_id].discard(owner_id)

    def members_of(self, owner_id: str) -> set[str]:
        return self.members.get(owner_id, set())

    def owners_of(self, student_id: str) -> set[str]:
        return self.owners.get(student_id, set())

    def drop_student(self, student_id: str) -> set[str]:
        """Forget a student's links; returns the owners it was linked to."""
        owners = self.owners.pop(student_id, set())
        for owner_id in owners:
            self.members[owner_id].discard(student_id)
        return owners

    def drop_owner(self, owner_id: str) -> set[str]:
        """Forget a class's or group's links; returns its members."""
        members = self.members.pop(owner_id, set())
        for student_id in members:
            self.owners[student_id].discard(owner_id)
        return members


@dataclass
class SandboxSchool:
    """Everything the sandbox serves for one school, plus its token and access state."""

    info: dict[str, Any]
    token: str
    rng: random.Random
    # The app's access: "approved", "pending" (requested), "declined", "revoked", or "none" (never asked).
    access: str = "approved"
    audited: bool = True
    # Whether the school grants the app its pupils' gender and dates of birth (Wonde's sensitive scopes).
    personal_details: bool = False
    students: dict[str, Student] = field(default_factory=dict)
    classes: dict[str, MisClass] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    class_links: Links = field(default_factory=Links)
    group_links: Links = field(default_factory=Links)
    deletions: dict[tuple[str, str], Deletion] = field(default_factory=dict)
    left: dict[str, Student] = field(default_factory=dict)
    # On the school's exclude list: gone from every list and lookup, with no deletion row (not leavers).
    excluded: dict[str, Student] = field(default_factory=dict)
    employees: dict[str, Employee] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)
    class_staff: Links = field(default_factory=Links)  # class id <-> employee id
    main_teachers: dict[str, str] = field(default_factory=dict)  # class id -> employee id
    group_staff: Links = field(default_factory=Links)  # group id <-> employee id (form tutors)
    access_requests: list[dict[str, Any]] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)
    upns: set[str] = field(default_factory=set)
    next_mis_id: int = 1
    mis_history: list[str] = field(default_factory=list)
    # When the last migration completed: each one a second after the one before at least, as Wonde
    # reports it to the second, so that two migrations are never one webhook event.
    migrated_at: datetime | None = None
    token_generation: int = 0
    next_admission: int = 1

    @property
    def id(self) -> str:
        return str(self.info["id"])

    @property
    def approved(self) -> bool:
        """Whether the app may read the school (its token, or the app-wide token, opens it)."""
        return self.access == "approved"

    @approved.setter
    def approved(self, value: bool) -> None:
        self.access = "approved" if value else "revoked"

    @property
    def urn(self) -> str | None:
        """The school's DfE URN, as text (Wonde sends a number), for registering it with bandsync."""
        urn = self.info.get("urn")
        return None if urn is None else str(urn)

    def new_id(self) -> str:
        """A fresh Wonde-style id ("A" and 9 or 10 digits) from the school's seeded generator."""
        while True:
            candidate = f"A{self.rng.randrange(10**8, 10**10)}"
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    def new_mis_id(self) -> str:
        value = self.next_mis_id
        self.next_mis_id += 1
        return str(value)

    def record_deletion(self, kind: str, record_id: str, mis_id: str | None, now: datetime) -> None:
        """Write (or reopen) the deletion row for a record, as Wonde keeps one row per record."""
        self.deletions[(kind, record_id)] = Deletion(kind, record_id, mis_id, deleted_at=now)

    def record_restore(self, kind: str, record_id: str, now: datetime) -> None:
        row = self.deletions.get((kind, record_id))
        if row is not None:
            row.restored_at = now
