from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import Select, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.repository import SchoolScoped
from app.models import Band, BandMembership


class BandRepository(SchoolScoped[Band]):
    model = Band

    def listing(self, *, include_archived: bool) -> Select[Band]:
        statement = self.for_school().order_by(Band.name, Band.id)
        if not include_archived:
            statement = statement.where(Band.archived_at.is_(None))
        return statement

    async def count_existing(self, band_ids: Collection[uuid.UUID]) -> int:
        if not band_ids:
            return 0
        count = await self.session.scalar(
            select(func.count()).select_from(Band).where(Band.school_id == self.school_id, Band.id.in_(list(band_ids)))
        )
        return int(count or 0)

    async def names(self, band_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Band -> name, for the bands among ``band_ids`` (archived or not)."""
        if not band_ids:
            return {}
        rows = await self.session.execute(
            select(Band.id, Band.name).where(Band.school_id == self.school_id, Band.id.in_(list(band_ids)))
        )
        return {band: name for band, name in rows.all()}  # noqa: C416 (rows, not pairs)

    async def by_names(self, names: Collection[str]) -> dict[str, list[Band]]:
        if not names:
            return {}
        found: dict[str, list[Band]] = {}
        for band in await self.session.scalars(self.for_school().where(Band.name.in_(list(names)))):
            found.setdefault(band.name, []).append(band)
        return found

    async def linked(self) -> list[Band]:
        """The bands that follow an MIS class or registration group."""
        rows = await self.session.scalars(
            self.for_school().where(Band.mis_class_id.is_not(None) | Band.mis_group_id.is_not(None))
        )
        return list(rows)

    async def any_linked(self) -> bool:
        linked = self.for_school().where(Band.mis_class_id.is_not(None) | Band.mis_group_id.is_not(None))
        return bool(await self.session.scalar(select(linked.exists())))

    async def unlink_all(self) -> None:
        await self.session.execute(
            update(Band).where(Band.school_id == self.school_id).values(mis_class_id=None, mis_group_id=None)
        )


class MembershipRepository:
    def __init__(self, session: AsyncSession, school_id: str) -> None:
        self.session = session
        self.school_id = school_id

    async def add_many(
        self, pairs: Iterable[tuple[uuid.UUID, uuid.UUID]], *, source: str = "app"
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Put each (band, pupil) pair in place, leaving existing ones as they are; returns the new pairs."""
        rows = [{"band_id": b, "pupil_id": p, "school_id": self.school_id, "source": source} for b, p in pairs]
        if not rows:
            return []
        statement = (
            insert(BandMembership).on_conflict_do_nothing().returning(BandMembership.band_id, BandMembership.pupil_id)
        )
        result = await self.session.execute(statement, rows)
        return [(band_id, pupil_id) for band_id, pupil_id in result.all()]

    async def members_of(self, band_ids: Collection[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
        if not band_ids:
            return []
        rows = await self.session.execute(
            select(BandMembership.band_id, BandMembership.pupil_id).where(
                BandMembership.school_id == self.school_id, BandMembership.band_id.in_(list(band_ids))
            )
        )
        return [(band_id, pupil_id) for band_id, pupil_id in rows]

    async def remove_pairs(self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """Take each (band, pupil) pair out, in one statement."""
        if pairs:
            await self.session.execute(
                delete(BandMembership).where(
                    BandMembership.school_id == self.school_id,
                    tuple_(BandMembership.band_id, BandMembership.pupil_id).in_(list(pairs)),
                )
            )
