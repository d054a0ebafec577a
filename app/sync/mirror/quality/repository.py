"""Every query of the data-quality list: each code the mirror answers is one ``SELECT`` branch over the
school's current mirror rows (``deleted_at`` is null), the codes reads record (quarantined and cleaned
records) one branch over ``mis_record_issues``, and a page is one ``UNION ALL`` of the branches asked
for, counted then read: two statements whatever the size of the school.

Tenancy: every branch filters its students, classes, groups and memberships by the school.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.kit.pagination import PageParams
from app.models import MisClass, MisGroup, MisMembership, MisRecordIssue, MisStudent
from app.sync.mirror.quality.codes import FROM_THE_MIRROR, RECORDED, IssueCode, Record

# One branch of the list: code, record, Wonde id, name, class name, fields.
Branch = Select[str, str, str, str | None, str | None, str | None]


@dataclass(frozen=True)
class Issue:
    """One entry of the list: a record of the MIS (by its Wonde id) and what is wrong with it."""

    code: IssueCode
    record: Record
    wonde_id: str
    name: str | None
    class_name: str | None  # where the issue was found, when that is a class (shared_name_in_class)
    fields: tuple[str, ...] = ()  # the fields at fault (quarantined and cleaned records)

    @property
    def sentence(self) -> str:
        return self.code.sentence


def _student_name() -> ColumnElement[str]:
    return func.concat_ws(" ", MisStudent.forename, MisStudent.surname)


def _none() -> ColumnElement[str | None]:
    return cast(null(), String)


def _entry(code: IssueCode, record: Record) -> tuple[ColumnElement[str], ColumnElement[str]]:
    return literal(code.value, String).label("code"), literal(record.value, String).label("record")


class QualityRepository:
    """The data-quality issues of one school's MIS mirror."""

    def __init__(self, session: AsyncSession, school_id: str) -> None:
        self.session = session
        self.school_id = school_id
        self._branches: dict[IssueCode, Callable[[], Branch]] = {
            IssueCode.NO_UPN: self._no_upn,
            IssueCode.NO_YEAR: self._no_year,
            IssueCode.STUDENT_IN_NO_CLASS: self._student_in_no_class,
            IssueCode.EMPTY_CLASS: self._empty_class,
            IssueCode.SHARED_NAME_IN_CLASS: self._shared_name_in_class,
            IssueCode.QUARANTINED: lambda: self._recorded(IssueCode.QUARANTINED),
            IssueCode.CLEANED: lambda: self._recorded(IssueCode.CLEANED),
            IssueCode.EXCLUDED: lambda: self._recorded(IssueCode.EXCLUDED),
        }
        assert set(self._branches) == FROM_THE_MIRROR | RECORDED

    # -- the school's current rows -------------------------------------------------------------

    def _current(self, table: type[MisStudent | MisMembership | MisClass | MisGroup]) -> ColumnElement[bool]:
        """The school's rows of ``table`` that the MIS still has (not soft-deleted)."""
        return and_(table.school_id == self.school_id, table.deleted_at.is_(None))

    def _current_student(self) -> ColumnElement[bool]:
        return self._current(MisStudent)

    def _current_membership(self) -> ColumnElement[bool]:
        return self._current(MisMembership)

    def _students_where(self, code: IssueCode, *where: ColumnElement[bool]) -> Branch:
        return select(
            *_entry(code, Record.STUDENT),
            MisStudent.wonde_id.label("wonde_id"),
            _student_name().label("name"),
            _none().label("class_name"),
            _none().label("fields"),
        ).where(self._current_student(), *where)

    # -- one branch per code -------------------------------------------------------------------

    def _no_upn(self) -> Branch:
        return self._students_where(IssueCode.NO_UPN, func.coalesce(func.trim(MisStudent.upn), "") == "")

    def _no_year(self) -> Branch:
        # A year code the school typed but that could not be read as a year group counts as none.
        return self._students_where(IssueCode.NO_YEAR, MisStudent.year_group.is_(None))

    def _student_in_no_class(self) -> Branch:
        # Placed: a current membership of a current class or registration group.
        placed = (
            select(MisMembership.id)
            .outerjoin(
                MisClass,
                and_(self._current(MisClass), MisClass.id == MisMembership.mis_class_id),
            )
            .outerjoin(
                MisGroup,
                and_(self._current(MisGroup), MisGroup.id == MisMembership.mis_group_id),
            )
            .where(
                self._current_membership(),
                MisMembership.mis_student_id == MisStudent.id,
                or_(MisClass.id.is_not(None), MisGroup.id.is_not(None)),
            )
        )
        return self._students_where(IssueCode.STUDENT_IN_NO_CLASS, ~exists(placed))

    def _empty_class(self) -> Branch:
        member = (
            select(MisMembership.id)
            .join(MisStudent, MisStudent.id == MisMembership.mis_student_id)
            .where(self._current_membership(), self._current_student(), MisMembership.mis_class_id == MisClass.id)
        )
        return select(
            *_entry(IssueCode.EMPTY_CLASS, Record.CLASS),
            MisClass.wonde_id.label("wonde_id"),
            MisClass.name.label("name"),
            _none().label("class_name"),
            _none().label("fields"),
        ).where(self._current(MisClass), ~exists(member))

    def _shared_name_in_class(self) -> Branch:
        # Registration groups stand in for classes (and bands follow them), so a clash there counts too.
        placements = union_all(
            self._placements(MisClass, MisMembership.mis_class_id),
            self._placements(MisGroup, MisMembership.mis_group_id),
        ).subquery()
        sharing = func.count().over(partition_by=(placements.c.container_id, placements.c.same_name))
        counted = select(placements, sharing.label("sharing")).subquery()
        return select(
            *_entry(IssueCode.SHARED_NAME_IN_CLASS, Record.STUDENT),
            counted.c.wonde_id,
            counted.c.name,
            counted.c.class_name,
            _none().label("fields"),
        ).where(counted.c.sharing > 1)

    def _recorded(self, code: IssueCode) -> Branch:
        """Records a read set aside or cleaned, named from the mirror where it has them (a record set
        aside the first time it was read has no name there)."""
        issue = MisRecordIssue
        student = and_(issue.record == Record.STUDENT.value, MisStudent.wonde_id == issue.wonde_id)
        mis_class = and_(issue.record == Record.CLASS.value, MisClass.wonde_id == issue.wonde_id)
        group = and_(issue.record == Record.GROUP.value, MisGroup.wonde_id == issue.wonde_id)
        return (
            select(
                issue.code.label("code"),
                issue.record.label("record"),
                issue.wonde_id.label("wonde_id"),
                func.coalesce(func.nullif(_student_name(), ""), MisClass.name, MisGroup.name).label("name"),
                _none().label("class_name"),
                issue.fields.label("fields"),
            )
            .outerjoin(MisStudent, and_(MisStudent.school_id == self.school_id, student))
            .outerjoin(MisClass, and_(MisClass.school_id == self.school_id, mis_class))
            .outerjoin(MisGroup, and_(MisGroup.school_id == self.school_id, group))
            .where(issue.school_id == self.school_id, issue.code == code.value)
        )

    def _placements(
        self, container: type[MisClass] | type[MisGroup], key: InstrumentedAttribute[uuid.UUID | None]
    ) -> Select[str, str, uuid.UUID, str, str]:
        """Each current student in each current container of one kind, with the name they are known by
        (preferred forename and surname, compared without case or surrounding spaces)."""
        same_name = func.concat_ws(
            "\x1f", func.lower(func.trim(MisStudent.forename)), func.lower(func.trim(MisStudent.surname))
        )
        return (
            select(
                MisStudent.wonde_id.label("wonde_id"),
                _student_name().label("name"),
                container.id.label("container_id"),
                container.name.label("class_name"),
                same_name.label("same_name"),
            )
            .join_from(MisMembership, MisStudent, MisStudent.id == MisMembership.mis_student_id)
            .join(container, container.id == key)
            .where(
                self._current_membership(),
                self._current_student(),
                self._current(container),
            )
        )

    # -- the list ------------------------------------------------------------------------------

    async def page(self, code: IssueCode | None, page: PageParams) -> tuple[list[Issue], int]:
        """One page of the school's issues (of one code, if given), by code, name, Wonde id and class,
        and their total: two statements."""
        branches = [build() for listed, build in self._branches.items() if code in (None, listed)]
        if not branches:  # a code nothing records yet (excluded): nothing to list, nothing to ask
            return [], 0
        issues = union_all(*branches).subquery("issues")
        total = await self.session.scalar(select(func.count()).select_from(issues))
        rows = await self.session.execute(
            select(issues)
            .order_by(issues.c.code, issues.c.name, issues.c.wonde_id, issues.c.class_name)
            .limit(page.per_page)
            .offset(page.offset)
        )
        found = [
            Issue(
                IssueCode(row.code),
                Record(row.record),
                row.wonde_id,
                row.name,
                row.class_name,
                tuple(row.fields.split(", ")) if row.fields else (),
            )
            for row in rows
        ]
        return found, int(total or 0)
