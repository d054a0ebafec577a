"""What one read of a school from Wonde found, reduced to what the mirror stores.

Pure: built item by item from the client's models while pages arrive, checked for the things a
careless write would turn into lost or doubled children (a duplicate id across pages, a student with
no name), and only then handed to the mirror. Nothing is written until the whole read is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from app.wonde.errors import WondeProtocolError
from app.wonde.schemas import WondeClass, WondeDeletion, WondeGroup, WondeStudent


def _clip(value: str | None, limit: int) -> str | None:
    value = value.strip() if value else None
    return value[:limit] if value else None


@dataclass(frozen=True)
class StudentRow:
    wonde_id: str
    upi: str | None
    mis_id: str | None
    upn: str | None
    forename: str
    surname: str
    legal_forename: str | None
    legal_surname: str | None
    middle_names: str | None
    year_group: int | None
    year_code: str | None
    leaving_date: date | None
    wonde_updated_at: datetime | None


@dataclass(frozen=True)
class ClassRow:
    wonde_id: str
    mis_id: str | None
    name: str
    code: str | None
    description: str | None
    subject_wonde_id: str | None
    wonde_updated_at: datetime | None


@dataclass(frozen=True)
class GroupRow:
    wonde_id: str
    mis_id: str | None
    name: str
    code: str | None
    type: str
    description: str | None
    wonde_updated_at: datetime | None


@dataclass(frozen=True)
class DeletionRow:
    type: str
    wonde_id: str
    restored: bool


def student_row(student: WondeStudent) -> StudentRow:
    forename = _clip(student.forename or student.legal_forename, 100)
    surname = _clip(student.surname or student.legal_surname, 100)
    if forename is None or surname is None:
        raise WondeProtocolError(f"student {student.id} has no name: is the students' name permission granted?")
    details = student.details
    return StudentRow(
        wonde_id=student.id,
        upi=_clip(student.upi, 64),
        mis_id=_clip(student.mis_id, 64),
        upn=_clip(details.upn if details else None, 32),
        forename=forename,
        surname=surname,
        legal_forename=_clip(student.legal_forename, 100),
        legal_surname=_clip(student.legal_surname, 100),
        middle_names=_clip(student.middle_names, 200),
        year_group=student.year_group,
        year_code=_clip(student.year_code, 32),
        leaving_date=details.leaving_date if details else None,
        wonde_updated_at=student.updated_at,
    )


def class_row(item: WondeClass) -> ClassRow:
    return ClassRow(
        wonde_id=item.id,
        mis_id=_clip(item.mis_id, 64),
        name=_clip(item.display_name, 200) or item.id,
        code=_clip(item.code, 100),
        description=_clip(item.description, 500),
        subject_wonde_id=_clip(item.subject_id, 64),
        wonde_updated_at=item.updated_at,
    )


def group_row(item: WondeGroup) -> GroupRow:
    return GroupRow(
        wonde_id=item.id,
        mis_id=_clip(item.mis_id, 64),
        name=_clip(item.display_name, 200) or item.id,
        code=_clip(item.code, 100),
        type=_clip(item.type, 32) or "UNKNOWN",
        description=_clip(item.description, 500),
        wonde_updated_at=item.updated_at,
    )


@dataclass
class MisRead:
    """Everything one read returned, keyed by Wonde id.

    ``class_members``/``group_members`` hold (student, container) Wonde id pairs for the students
    read: a student's ``classes``/``groups`` include is that student's complete list.
    """

    students: dict[str, StudentRow] = field(default_factory=dict)
    classes: dict[str, ClassRow] = field(default_factory=dict)
    groups: dict[str, GroupRow] = field(default_factory=dict)
    class_members: set[tuple[str, str]] = field(default_factory=set)
    group_members: set[tuple[str, str]] = field(default_factory=set)
    deletions: list[DeletionRow] = field(default_factory=list)
    group_type: str = "REGISTRATION"
    # Classes and groups seen inside students' includes, kept in case their own list misses them.
    _included_classes: dict[str, ClassRow] = field(default_factory=dict)
    _included_groups: dict[str, GroupRow] = field(default_factory=dict)

    def add_student(self, student: WondeStudent) -> None:
        if student.id in self.students:
            raise WondeProtocolError(f"student {student.id} was returned twice in one read")
        self.students[student.id] = student_row(student)
        for item in student.classes.data or [] if student.classes else []:
            self.class_members.add((student.id, item.id))
            self._included_classes.setdefault(item.id, class_row(item))
        for group in student.groups.data or [] if student.groups else []:
            # A group without a type is kept as a candidate; the mirror joins it only to groups it
            # knows to be of the type read.
            if group.type is None:
                self.group_members.add((student.id, group.id))
            elif group.type.upper() == self.group_type:
                self.group_members.add((student.id, group.id))
                self._included_groups.setdefault(group.id, group_row(group))

    def add_class(self, item: WondeClass) -> None:
        if item.id in self.classes:
            raise WondeProtocolError(f"class {item.id} was returned twice in one read")
        self.classes[item.id] = class_row(item)

    def add_group(self, item: WondeGroup) -> None:
        if item.id in self.groups:
            raise WondeProtocolError(f"group {item.id} was returned twice in one read")
        self.groups[item.id] = group_row(item)

    def add_deletion(self, item: WondeDeletion) -> None:
        self.deletions.append(DeletionRow((item.type or "").lower(), item.id, item.restored_at is not None))

    def finish(self) -> MisRead:
        """Complete the read: classes and groups known only from students' includes are kept too."""
        for wonde_id, row in self._included_classes.items():
            self.classes.setdefault(wonde_id, row)
        for wonde_id, group in self._included_groups.items():
            self.groups.setdefault(wonde_id, group)
        return self

    def deleted_ids(self, kind: str) -> set[str]:
        """Ids Wonde reports deleted and not restored, unless this very read returned them live."""
        by_kind: dict[str, Mapping[str, object]] = {
            "student": self.students,
            "class": self.classes,
            "group": self.groups,
        }
        live = by_kind[kind]
        return {d.wonde_id for d in self.deletions if d.type == kind and not d.restored and d.wonde_id not in live}

    def restored_ids(self, kind: str) -> set[str]:
        return {d.wonde_id for d in self.deletions if d.type == kind and d.restored}
