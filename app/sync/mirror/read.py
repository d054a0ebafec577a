"""What one read of a school from Wonde found, reduced to what the mirror stores.

Pure: built item by item from the client's models while pages arrive, checked for the things a
careless write would turn into lost or doubled children (a duplicate id across pages), and only then
handed to the mirror. Nothing is written until the whole read is complete.

Every text value is cleaned on the way in (``app.sync.mirror.clean``), and a student known by a blank
preferred name falls back to the legal one *after* cleaning. A record that still cannot be used (a
student with no name left, fields the client could not read) is **quarantined**: left out of the read
and listed in ``issues`` with the names of the fields at fault, so that the mirror keeps what it had of
it and the admin hears what to fix. A value cleaning changed is listed there too, as ``cleaned``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from app.sync.mirror.clean import clean
from app.sync.mirror.quality.codes import IssueCode, Record
from app.wonde.errors import WondeProtocolError
from app.wonde.schemas import Unreadable, WondeClass, WondeDeletion, WondeGroup, WondeStudent


class Unusable(Exception):
    """A record read and cleaned that still cannot be stored; ``fields`` say what it lacks."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


class _Texts:
    """Cleans one record's text values, remembering the fields whose value cleaning changed."""

    def __init__(self) -> None:
        self.changed: list[str] = []

    def __call__(self, field: str, raw: str | None, limit: int) -> str | None:
        cleaned = clean(raw, limit)
        if cleaned.changed:
            self.changed.append(field)
        return cleaned.value


@dataclass(frozen=True)
class RecordIssue:
    """A record of this read that was quarantined or had a value cleaned: ids and field names only."""

    record: Record
    wonde_id: str
    code: IssueCode
    fields: tuple[str, ...]


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


def student_row(student: WondeStudent) -> tuple[StudentRow, list[str]]:
    """The row to store and the fields cleaning changed; ``Unusable`` when no name is left."""
    text = _Texts()
    forename = text("forename", student.forename, 100) or text("legal_forename", student.legal_forename, 100)
    surname = text("surname", student.surname, 100) or text("legal_surname", student.legal_surname, 100)
    if forename is None or surname is None:
        raise Unusable(tuple(name for name, value in (("forename", forename), ("surname", surname)) if value is None))
    details = student.details
    row = StudentRow(
        wonde_id=student.id,
        upi=text("upi", student.upi, 64),
        mis_id=text("mis_id", student.mis_id, 64),
        upn=text("upn", details.upn if details else None, 32),
        forename=forename,
        surname=surname,
        legal_forename=text("legal_forename", student.legal_forename, 100),
        legal_surname=text("legal_surname", student.legal_surname, 100),
        middle_names=text("middle_names", student.middle_names, 200),
        year_group=student.year_group,
        year_code=text("year_code", student.year_code, 32),
        leaving_date=details.leaving_date if details else None,
        wonde_updated_at=student.updated_at,
    )
    return row, sorted(set(text.changed))


def class_row(item: WondeClass) -> tuple[ClassRow, list[str]]:
    text = _Texts()
    row = ClassRow(
        wonde_id=item.id,
        mis_id=text("mis_id", item.mis_id, 64),
        name=text("name", item.display_name, 200) or item.id,
        code=text("code", item.code, 100),
        description=text("description", item.description, 500),
        subject_wonde_id=text("subject", item.subject_id, 64),
        wonde_updated_at=item.updated_at,
    )
    return row, sorted(set(text.changed))


def group_row(item: WondeGroup) -> tuple[GroupRow, list[str]]:
    text = _Texts()
    row = GroupRow(
        wonde_id=item.id,
        mis_id=text("mis_id", item.mis_id, 64),
        name=text("name", item.display_name, 200) or item.id,
        code=text("code", item.code, 100),
        type=text("type", item.type, 32) or "UNKNOWN",
        description=text("description", item.description, 500),
        wonde_updated_at=item.updated_at,
    )
    return row, sorted(set(text.changed))


@dataclass
class MisRead:
    """Everything one read returned, keyed by Wonde id.

    ``class_members``/``group_members`` hold (student, container) Wonde id pairs for the students
    read: a student's ``classes``/``groups`` include is that student's complete list. ``issues`` are
    the records set aside (quarantined) or changed by cleaning, by record, Wonde id and code.
    """

    students: dict[str, StudentRow] = field(default_factory=dict)
    classes: dict[str, ClassRow] = field(default_factory=dict)
    groups: dict[str, GroupRow] = field(default_factory=dict)
    class_members: set[tuple[str, str]] = field(default_factory=set)
    group_members: set[tuple[str, str]] = field(default_factory=set)
    deletions: list[DeletionRow] = field(default_factory=list)
    issues: dict[tuple[Record, str, IssueCode], RecordIssue] = field(default_factory=dict)
    group_type: str = "REGISTRATION"
    # Classes and groups seen inside students' includes, kept in case their own list misses them.
    _included_classes: dict[str, ClassRow] = field(default_factory=dict)
    _included_groups: dict[str, GroupRow] = field(default_factory=dict)

    def quarantined(self, record: Record) -> set[str]:
        """The Wonde ids of the records of one kind this read set aside."""
        return {i.wonde_id for i in self.issues.values() if i.record == record and i.code == IssueCode.QUARANTINED}

    def _note(self, record: Record, wonde_id: str, code: IssueCode, fields: Collection[str]) -> None:
        if fields:
            self.issues[(record, wonde_id, code)] = RecordIssue(record, wonde_id, code, tuple(fields))

    def _first_time(self, record: Record, wonde_id: str, kept: Mapping[str, object]) -> None:
        if wonde_id in kept or (record, wonde_id, IssueCode.QUARANTINED) in self.issues:
            raise WondeProtocolError(f"{record} {wonde_id} was returned twice in one read")

    def add_student(self, student: WondeStudent | Unreadable) -> None:
        self._first_time(
            Record.STUDENT, student.wonde_id if isinstance(student, Unreadable) else student.id, self.students
        )
        if isinstance(student, Unreadable):
            self._note(Record.STUDENT, student.wonde_id, IssueCode.QUARANTINED, student.fields)
            return
        try:
            row, changed = student_row(student)
        except Unusable as exc:
            self._note(Record.STUDENT, student.id, IssueCode.QUARANTINED, exc.fields)
            return
        self.students[student.id] = row
        self._note(Record.STUDENT, student.id, IssueCode.CLEANED, changed)
        for item in student.classes.data or [] if student.classes else []:
            self.class_members.add((student.id, item.id))
            if item.id not in self._included_classes:
                self._included_classes[item.id] = self._class(item)
        for group in student.groups.data or [] if student.groups else []:
            # A group without a type is kept as a candidate; the mirror joins it only to groups it
            # knows to be of the type read.
            if group.type is None:
                self.group_members.add((student.id, group.id))
            elif group.type.upper() == self.group_type:
                self.group_members.add((student.id, group.id))
                if group.id not in self._included_groups:
                    self._included_groups[group.id] = self._group(group)

    def _class(self, item: WondeClass) -> ClassRow:
        row, changed = class_row(item)
        self._note(Record.CLASS, item.id, IssueCode.CLEANED, changed)
        return row

    def _group(self, item: WondeGroup) -> GroupRow:
        row, changed = group_row(item)
        self._note(Record.GROUP, item.id, IssueCode.CLEANED, changed)
        return row

    def add_class(self, item: WondeClass | Unreadable) -> None:
        if isinstance(item, Unreadable):
            self._first_time(Record.CLASS, item.wonde_id, self.classes)
            self._note(Record.CLASS, item.wonde_id, IssueCode.QUARANTINED, item.fields)
            return
        self._first_time(Record.CLASS, item.id, self.classes)
        self.classes[item.id] = self._class(item)

    def add_group(self, item: WondeGroup | Unreadable) -> None:
        if isinstance(item, Unreadable):
            self._first_time(Record.GROUP, item.wonde_id, self.groups)
            self._note(Record.GROUP, item.wonde_id, IssueCode.QUARANTINED, item.fields)
            return
        self._first_time(Record.GROUP, item.id, self.groups)
        self.groups[item.id] = self._group(item)

    def add_deletion(self, item: WondeDeletion | Unreadable) -> None:
        # A deletion that cannot be read is passed over: the next full read removes what it removed.
        if not isinstance(item, Unreadable):
            self.deletions.append(DeletionRow((item.type or "").lower(), item.id, item.restored_at is not None))

    def finish(self) -> MisRead:
        """Complete the read: classes and groups known only from students' includes are kept too,
        unless their own list set them aside."""
        for wonde_id, row in self._included_classes.items():
            if (Record.CLASS, wonde_id, IssueCode.QUARANTINED) not in self.issues:
                self.classes.setdefault(wonde_id, row)
        for wonde_id, group in self._included_groups.items():
            if (Record.GROUP, wonde_id, IssueCode.QUARANTINED) not in self.issues:
                self.groups.setdefault(wonde_id, group)
        return self

    def forget(self, students: Collection[str]) -> None:
        """Leave these students out entirely (erased on request): no row, no membership, no issue, and
        no deletion row either (a restored one would bring their mirror record back)."""
        for wonde_id in students:
            self.students.pop(wonde_id, None)
        self.deletions = [d for d in self.deletions if not (d.type == "student" and d.wonde_id in students)]
        self.class_members = {pair for pair in self.class_members if pair[0] not in students}
        self.group_members = {pair for pair in self.group_members if pair[0] not in students}
        self.issues = {
            key: issue
            for key, issue in self.issues.items()
            if not (issue.record == Record.STUDENT and issue.wonde_id in students)
        }

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
