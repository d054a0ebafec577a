from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.repository import SchoolScoped
from app.models import Band, BandMembership, Credential, MisStudent, Pupil
from app.pupils.usernames import base_username


class PupilRepository(SchoolScoped[Pupil]):
    model = Pupil

    def listing(self, *, band_id: uuid.UUID | None, include_archived: bool) -> Select[Pupil]:
        statement = self.for_school().order_by(Pupil.last_name, Pupil.first_name, Pupil.id)
        if band_id is not None:
            statement = statement.where(
                Pupil.id.in_(select(BandMembership.pupil_id).where(BandMembership.band_id == band_id))
            )
        if not include_archived:
            statement = statement.where(Pupil.archived_at.is_(None))
        return statement

    async def usernames_like(self, names: Collection[tuple[str, str]]) -> set[str]:
        """Every username in the school that shares a base with one of ``names``: all that the
        username policy must avoid for them, in one query."""
        bases = {base_username(first, last) for first, last in names}
        if not bases:
            return set()
        patterns = [Pupil.username.like(base + "%") for base in bases]
        rows = await self.session.scalars(
            select(Pupil.username).where(Pupil.school_id == self.school_id, or_(*patterns))
        )
        return set(rows)

    async def by_external_ids(self, external_ids: Collection[str]) -> dict[str, Pupil]:
        if not external_ids:
            return {}
        rows = await self.session.scalars(self.for_school().where(Pupil.external_id.in_(list(external_ids))))
        return {pupil.external_id: pupil for pupil in rows if pupil.external_id is not None}

    async def in_bands(self, band_ids: Collection[uuid.UUID]) -> list[tuple[uuid.UUID, Pupil]]:
        """Every (band id, pupil) membership of these bands, in one query."""
        if not band_ids:
            return []
        rows = await self.session.execute(
            select(BandMembership.band_id, Pupil)
            .join(Pupil, (Pupil.id == BandMembership.pupil_id) & (Pupil.school_id == BandMembership.school_id))
            .where(BandMembership.school_id == self.school_id, BandMembership.band_id.in_(list(band_ids)))
        )
        return [(band_id, pupil) for band_id, pupil in rows]

    async def student_links(self, pupil_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
        """The MIS student each of these pupils follows now (None for none), in one query."""
        if not pupil_ids:
            return {}
        rows = await self.session.execute(
            select(Pupil.id, Pupil.mis_student_id).where(
                Pupil.school_id == self.school_id, Pupil.id.in_(list(pupil_ids))
            )
        )
        return dict(rows.all())

    async def update_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk UPDATE by primary key: each row holds ``id`` and the columns to set."""
        if rows:
            await self.session.execute(update(Pupil), list(rows))

    async def linked(self) -> list[tuple[Pupil, str]]:
        """The accounts that follow an MIS student, each with that student's Wonde id, in one query."""
        rows = await self.session.execute(
            select(Pupil, MisStudent.wonde_id)
            .join(MisStudent, (MisStudent.id == Pupil.mis_student_id) & (MisStudent.school_id == Pupil.school_id))
            .where(Pupil.school_id == self.school_id)
        )
        return [(pupil, wonde_id) for pupil, wonde_id in rows]

    async def unlink_all(self) -> None:
        await self.session.execute(update(Pupil).where(Pupil.school_id == self.school_id).values(mis_student_id=None))

    async def band_names(self, pupil_ids: Collection[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
        """(pupil id, band name) of every band of these pupils, by band name."""
        if not pupil_ids:
            return []
        rows = await self.session.execute(
            select(BandMembership.pupil_id, Band.name)
            .join(Band, Band.id == BandMembership.band_id)
            .where(BandMembership.school_id == self.school_id, BandMembership.pupil_id.in_(list(pupil_ids)))
            .order_by(Band.name)
        )
        return [(pupil_id, name) for pupil_id, name in rows]


class CredentialRepository(SchoolScoped[Credential]):
    """New accounts' passwords, readable until the admin downloads them or they expire."""

    model = Credential

    async def waiting(self, run_id: uuid.UUID) -> list[tuple[Credential, Pupil]]:
        """The run's passwords still readable, with their pupils, by name."""
        rows = await self.session.execute(
            select(Credential, Pupil)
            .join(Pupil, (Pupil.id == Credential.pupil_id) & (Pupil.school_id == Credential.school_id))
            .where(
                Credential.school_id == self.school_id,
                Credential.run_id == run_id,
                Credential.password_encrypted.is_not(None),
            )
            .order_by(Pupil.last_name, Pupil.first_name, Pupil.username)
        )
        return [(credential, pupil) for credential, pupil in rows]

    async def clear(
        self,
        *,
        run_id: uuid.UUID | None = None,
        pupil_id: uuid.UUID | None = None,
        downloaded_at: datetime | None = None,
    ) -> None:
        """Forget the readable passwords of a run or of one pupil (noting when they were downloaded)."""
        statement = update(Credential).where(
            Credential.school_id == self.school_id, Credential.password_encrypted.is_not(None)
        )
        if run_id is not None:
            statement = statement.where(Credential.run_id == run_id)
        if pupil_id is not None:
            statement = statement.where(Credential.pupil_id == pupil_id)
        values: dict[str, Any] = {"password_encrypted": None}
        if downloaded_at is not None:
            values["downloaded_at"] = downloaded_at
        await self.session.execute(statement.values(**values))


async def expire_credentials(session: AsyncSession, now: datetime) -> int:
    """Clear every readable password past its expiry, whichever school it belongs to."""
    result = await session.execute(
        update(Credential)
        .where(Credential.password_encrypted.is_not(None), Credential.expires_at <= now)
        .values(password_encrypted=None)
        .returning(Credential.id)
    )
    return len(result.all())
