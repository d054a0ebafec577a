"""Login details, where the credentials' rules (``app/pupils/credentials.py``) meet the runs: a download and a
confirmation name a run of the school; a band's passwords reissued become a run of their own, whose login
details are downloaded and confirmed like a merge's."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.bands.repository import BandRepository
from app.errors import BandNotFound, Conflict
from app.kit.crypto import SecretBox
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.models.sync_run import RunKind, RunTrigger
from app.pupils import credentials
from app.pupils.credentials import OneBand
from app.pupils.login_cards import render_cards
from app.pupils.repository import PupilRepository
from app.schools.service import get_school
from app.sync.login_details.schemas import LoginDetail, LoginDetailsConfirmation
from app.sync.runs import service as runs
from app.sync.runs.schemas import RunDetail

NO_BAND = "No band"  # the sheet of the pupils who are in no band


class NoActivePupils(Conflict):
    """The band has no active pupil to give a new password to."""


async def _band(session: AsyncSession, school_id: str, band_id: uuid.UUID) -> OneBand:
    band = await BandRepository(session, school_id).get(band_id)
    if band is None:
        raise BandNotFound(f"Band {band_id} is not a band of this school.")
    return OneBand(band.id, band.name)


async def login_details(
    session: AsyncSession,
    school_id: str,
    run_id: uuid.UUID,
    box: SecretBox,
    *,
    actor: str,
    format: credentials.Format,
    band_id: uuid.UUID | None,
) -> list[LoginDetail]:
    """The run's login details still waiting (of one band's pupils, with ``band_id``), journalled as
    ``actor``'s download in ``format``; reading them clears nothing."""
    await runs.get_run(session, school_id, run_id)
    band = await _band(session, school_id, band_id) if band_id is not None else None
    handed_out = await credentials.download(session, school_id, run_id, box, actor=actor, format=format, band=band)
    return [LoginDetail(**dataclasses.asdict(detail)) for detail in handed_out]


async def login_cards(session: AsyncSession, school_id: str, details: Sequence[LoginDetail], login_url: str) -> bytes:
    """Printable cards of ``details``, a sheet (or more) per class."""
    school = await get_school(session, school_id)
    by_band: dict[str, list[LoginDetail]] = {}
    for detail in details:
        by_band.setdefault(detail.band or NO_BAND, []).append(detail)
    return render_cards(school.name, by_band, login_url=login_url)


async def confirm(session: AsyncSession, school_id: str, run_id: uuid.UUID, *, actor: str) -> LoginDetailsConfirmation:
    """The admin has handed the run's login details out: their passwords are cleared, and journalled as
    ``actor``'s confirmation."""
    await runs.get_run(session, school_id, run_id)
    done = await credentials.confirm(session, school_id, run_id, actor=actor)
    return LoginDetailsConfirmation(run_id=run_id, confirmed=done.confirmed, confirmed_at=done.confirmed_at)


async def reissue_band_passwords(
    session: AsyncSession, school_id: str, band_id: uuid.UUID, box: SecretBox, *, actor: str
) -> RunDetail:
    """New passwords for every active pupil of the band, waiting as the login details of a new run (kind
    ``new_passwords``, done when this returns). Under the school's lock, so that no merge or sync archives
    or moves the band's pupils half-way; journalled as ``actor``'s (``credentials.reissue``)."""
    await lock_school(session, school_id)
    band = await _band(session, school_id, band_id)
    listing = PupilRepository(session, school_id).listing(band_id=band.id, include_archived=False)
    pupil_ids = [pupil.id for pupil in await session.scalars(listing)]
    if not pupil_ids:
        raise NoActivePupils(f"Band {band.id} has no active pupil to give a new password to.")
    run = runs.new_run(school_id, RunKind.NEW_PASSWORDS, RunTrigger.MANUAL, actor)
    runs.start(run, utc_now())
    session.add(run)
    await session.flush()
    await credentials.reissue(session, school_id, run.id, band, pupil_ids, box, actor=actor)
    runs.succeed(run, counts={"pupils": len(pupil_ids)})
    await session.flush()
    await session.refresh(run)
    return RunDetail.of(run, len(pupil_ids))
