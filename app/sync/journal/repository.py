"""Every query of the journal (``changes``): the listing and its filters, a pupil's timeline, held
changes, what undo reads, and the accounts taken from their students. Tenancy: every query is
``ChangeRepository.for_school`` or filters by its school."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update

from app.kit.pagination import PageParams
from app.kit.repository import SchoolScoped, paginate
from app.models import ChangeRow, ChangeStatus, MisClass, MisGroup, MisStudent, Pupil
from app.sync.journal.entries import TAKEN_FROM_STUDENT, Action


@dataclass(frozen=True)
class ChangeFilter:
    """Which journal rows to list (None: any)."""

    run_id: uuid.UUID | None = None
    pupil_id: uuid.UUID | None = None
    band_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ChangeRepository(SchoolScoped[ChangeRow]):
    model = ChangeRow

    def listing(self, where: ChangeFilter) -> Select[ChangeRow]:
        """The journal, newest first, filtered by run, pupil, band, kind of change or time."""
        statement = self.for_school().order_by(ChangeRow.id.desc())
        for column, value in (
            (ChangeRow.run_id, where.run_id),
            (ChangeRow.pupil_id, where.pupil_id),
            (ChangeRow.band_id, where.band_id),
            (ChangeRow.action, where.action),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if where.since is not None:
            statement = statement.where(ChangeRow.created_at >= where.since)
        if where.until is not None:
            statement = statement.where(ChangeRow.created_at < where.until)
        return statement

    async def page(self, where: ChangeFilter, page: PageParams) -> tuple[list[ChangeRow], int]:
        return await paginate(self.session, self.listing(where), page)

    async def timeline(self, pupil_id: uuid.UUID) -> list[ChangeRow]:
        """Everything journalled about one account, oldest first."""
        rows = await self.session.scalars(
            self.for_school().where(ChangeRow.pupil_id == pupil_id).order_by(ChangeRow.id)
        )
        return list(rows)

    async def held(self) -> list[ChangeRow]:
        """The changes waiting for an admin, oldest first."""
        rows = await self.session.scalars(
            self.for_school().where(ChangeRow.status == ChangeStatus.HELD).order_by(ChangeRow.id)
        )
        return list(rows)

    async def held_to_decide(self, change_id: int | None) -> list[ChangeRow]:
        """Held changes (one, or all of them), whether decided or not, locked for the decision, by pupil
        and then oldest first: the order of the index (school, pupil, id) the planner read them by when
        the stored journal's decisions were recorded, stated so that a decision's answer no longer
        depends on the plan."""
        statement = self.for_school().where(ChangeRow.action == Action.HELD).order_by(ChangeRow.pupil_id, ChangeRow.id)
        if change_id is not None:
            statement = statement.where(ChangeRow.id == change_id)
        return list(await self.session.scalars(statement.with_for_update()))

    async def waiting_held(self) -> list[ChangeRow]:
        """The held changes still waiting, locked for a decision, by pupil and then oldest first (the order
        ``held_to_decide`` gives, which a decision's answer follows)."""
        statement = (
            self.for_school()
            .where(ChangeRow.status == ChangeStatus.HELD, ChangeRow.action == Action.HELD)
            .order_by(ChangeRow.pupil_id, ChangeRow.id)
        )
        return list(await self.session.scalars(statement.with_for_update()))

    async def applied(self, run_id: uuid.UUID) -> list[ChangeRow]:
        """What a run applied and is still applied, newest first (the order undo reverts in); never an
        audit entry, which belongs to no run."""
        rows = await self.session.scalars(
            self.for_school()
            .where(ChangeRow.run_id == run_id, ChangeRow.status == ChangeStatus.APPLIED)
            .order_by(ChangeRow.id.desc())
        )
        return list(rows)

    async def later_run(self, run_id: uuid.UUID, rows: Sequence[ChangeRow]) -> uuid.UUID | None:
        """A later run that changed something these rows changed (its changes still applied). What a
        person did by hand meanwhile (an audit entry, with no run) does not block an undo."""
        touched = {(row.entity_type, row.entity_id) for row in rows}
        return await self.session.scalar(
            select(ChangeRow.run_id)
            .where(
                ChangeRow.school_id == self.school_id,
                ChangeRow.run_id.is_not(None),
                ChangeRow.run_id != run_id,
                ChangeRow.id > min(row.id for row in rows),
                ChangeRow.status == ChangeStatus.APPLIED,
                or_(*(and_(ChangeRow.entity_type == t, ChangeRow.entity_id == i) for t, i in touched)),
            )
            .limit(1)
        )

    async def anonymised(self, rows: Sequence[ChangeRow]) -> bool:
        """Whether any account these rows are about was anonymised since."""
        pupils = {row.pupil_id for row in rows if row.pupil_id is not None}
        if not pupils:
            return False
        found = await self.session.scalar(
            select(Pupil.id)
            .where(Pupil.school_id == self.school_id, Pupil.id.in_(pupils), Pupil.anonymised_at.is_not(None))
            .limit(1)
        )
        return found is not None

    async def container_columns(self, wonde_id: str) -> dict[str, uuid.UUID | None]:
        """The columns that link a band to the MIS class or group with this Wonde id (deleted or not)."""
        found = await self.session.scalar(
            select(MisClass.id).where(MisClass.school_id == self.school_id, MisClass.wonde_id == wonde_id)
        )
        if found is not None:
            return {"mis_class_id": found, "mis_group_id": None}
        group = await self.session.scalar(
            select(MisGroup.id).where(MisGroup.school_id == self.school_id, MisGroup.wonde_id == wonde_id)
        )
        return {"mis_class_id": None, "mis_group_id": group}

    async def names_deleted_mis_records(self, rows: Sequence[ChangeRow]) -> bool:
        """Whether these rows' befores name (by our ids) an MIS record the mirror no longer has: only a
        purged mirror loses rows (``app.sync.retention``), so undoing them would link to nothing."""
        named: dict[type[Any], set[uuid.UUID]] = {MisStudent: set(), MisClass: set(), MisGroup: set()}
        for row in rows:
            before = row.before or {}
            for key, model in (("mis_student_id", MisStudent), ("mis_class_id", MisClass), ("mis_group_id", MisGroup)):
                if before.get(key):
                    named[model].add(uuid.UUID(str(before[key])))
        for model, ids in named.items():
            if ids:
                found = await self.session.scalar(
                    select(func.count()).where(model.school_id == self.school_id, model.id.in_(list(ids)))
                )
                if found != len(ids):
                    return True
        return False

    async def follower(self, student: uuid.UUID, other_than: uuid.UUID) -> uuid.UUID | None:
        """The account, other than this one, that follows this MIS student now."""
        return await self.session.scalar(
            select(Pupil.id).where(
                Pupil.school_id == self.school_id, Pupil.mis_student_id == student, Pupil.id != other_than
            )
        )

    async def carrying_a_word(self) -> list[ChangeRow]:
        """The rows that may carry an admin's word for the next sync (``app.sync.core.undone``), oldest
        first: changes an undo reverted, and changes held after an undo, waiting or rejected; none lapsed."""
        held_after_undo = and_(
            ChangeRow.action == Action.HELD,
            ChangeRow.status.in_((ChangeStatus.HELD, ChangeStatus.REJECTED)),
            ChangeRow.after["after_undo"].as_boolean(),
        )
        rows = await self.session.scalars(
            self.for_school()
            .where(
                ChangeRow.lapsed_at.is_(None),
                or_(ChangeRow.status == ChangeStatus.UNDONE, held_after_undo),
            )
            .order_by(ChangeRow.id)
        )
        return list(rows)

    async def lapse(self, ids: Sequence[int], now: datetime) -> None:
        """These rows no longer carry the admin's word for the syncs."""
        if ids:
            await self.session.execute(
                update(ChangeRow)
                .where(ChangeRow.school_id == self.school_id, ChangeRow.id.in_(list(ids)))
                .values(lapsed_at=now)
            )

    async def taken_from_student(self) -> list[tuple[uuid.UUID | None, dict[str, Any] | None]]:
        """(pupil, before) of every applied change that took an account from its student, oldest first."""
        rows = await self.session.execute(
            select(ChangeRow.pupil_id, ChangeRow.before)
            .where(
                ChangeRow.school_id == self.school_id,
                ChangeRow.action.in_(TAKEN_FROM_STUDENT),
                ChangeRow.status == ChangeStatus.APPLIED,
            )
            .order_by(ChangeRow.id)
        )
        return [(pupil_id, before) for pupil_id, before in rows]
