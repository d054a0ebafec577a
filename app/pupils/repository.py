from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
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

    async def full_names(self, pupil_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Pupil -> "first last", for the pupils among ``pupil_ids`` (archived or not)."""
        if not pupil_ids:
            return {}
        rows = await self.session.execute(
            select(Pupil.id, Pupil.first_name, Pupil.last_name).where(
                Pupil.school_id == self.school_id, Pupil.id.in_(list(pupil_ids))
            )
        )
        return {pupil: f"{first} {last}" for pupil, first, last in rows}

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
    """New accounts' passwords, readable until the admin confirms them as handed out or they expire.

    The rows a download reads are locked ``FOR SHARE`` and the rows a confirm or a clear changes ``FOR
    UPDATE``, always in the order of their ids: downloads never wait for each other, a confirm waits for
    the downloads under way (and they for it), and two of them can never each hold a row the other needs."""

    model = Credential

    def _readable(self, run_id: uuid.UUID, now: datetime) -> Select[uuid.UUID]:
        return select(Credential.id).where(
            Credential.school_id == self.school_id,
            Credential.run_id == run_id,
            Credential.password_encrypted.is_not(None),
            Credential.expires_at > now,
        )

    async def waiting(
        self, run_id: uuid.UUID, now: datetime, *, band_id: uuid.UUID | None = None
    ) -> list[tuple[Credential, Pupil]]:
        """The run's passwords still readable at ``now`` (of the members of ``band_id`` alone, when given),
        with their pupils, by name; each row locked ``FOR SHARE`` until the transaction ends."""
        readable = self._readable(run_id, now)
        if band_id is not None:
            readable = readable.where(
                Credential.pupil_id.in_(
                    select(BandMembership.pupil_id).where(
                        BandMembership.school_id == self.school_id, BandMembership.band_id == band_id
                    )
                )
            )
        ids = list(await self.session.scalars(readable.order_by(Credential.id).with_for_update(read=True)))
        if not ids:
            return []
        rows = await self.session.execute(
            select(Credential, Pupil)
            .join(Pupil, (Pupil.id == Credential.pupil_id) & (Pupil.school_id == Credential.school_id))
            .where(Credential.school_id == self.school_id, Credential.id.in_(ids))
            .order_by(Pupil.last_name, Pupil.first_name, Pupil.username)
        )
        return [(credential, pupil) for credential, pupil in rows]

    async def count_waiting(self, run_id: uuid.UUID, now: datetime) -> int:
        return int(
            await self.session.scalar(select(func.count()).select_from(self._readable(run_id, now).subquery())) or 0
        )

    async def confirmed_at(self, run_id: uuid.UUID) -> datetime | None:
        """When the admin confirmed the run's login details (None: never)."""
        return await self.session.scalar(
            select(func.max(Credential.confirmed_at)).where(
                Credential.school_id == self.school_id, Credential.run_id == run_id
            )
        )

    async def confirm(self, run_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
        """Clear the run's passwords still readable at ``now``, noting they were confirmed then (the rows
        taken ``FOR UPDATE`` first, so a download under way finishes before); the pupils whose they were."""
        locked = self._readable(run_id, now).add_columns(Credential.pupil_id).order_by(Credential.id).with_for_update()
        rows = (await self.session.execute(locked)).all()
        if rows:
            await self.session.execute(
                update(Credential)
                .where(Credential.school_id == self.school_id, Credential.id.in_([id_ for id_, _ in rows]))
                .values(password_encrypted=None, confirmed_at=now)
            )
        return [pupil_id for _, pupil_id in rows]

    async def clear(self, *, run_id: uuid.UUID | None = None, pupil_ids: Collection[uuid.UUID] | None = None) -> None:
        """Forget the readable passwords of a run, or of these pupils (their accounts got new ones)."""
        locked = select(Credential.id).where(
            Credential.school_id == self.school_id, Credential.password_encrypted.is_not(None)
        )
        if run_id is not None:
            locked = locked.where(Credential.run_id == run_id)
        if pupil_ids is not None:
            locked = locked.where(Credential.pupil_id.in_(list(pupil_ids)))
        ids = list(await self.session.scalars(locked.order_by(Credential.id).with_for_update()))
        if ids:
            await self.session.execute(
                update(Credential)
                .where(Credential.school_id == self.school_id, Credential.id.in_(ids))
                .values(password_encrypted=None)
            )


async def expire_credentials(session: AsyncSession, now: datetime) -> int:
    """Clear every readable password past its expiry, whichever school it belongs to."""
    result = await session.execute(
        update(Credential)
        .where(Credential.password_encrypted.is_not(None), Credential.expires_at <= now)
        .values(password_encrypted=None)
        .returning(Credential.id)
    )
    return len(result.all())
