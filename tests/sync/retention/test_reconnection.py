"""A school that withdrew consent in Wonde and approved the app again, against the sandbox over real HTTP:
within the 30 days its MIS mirror is still there and reused (the same rows); after the daily job deleted
it, the approval's full read rebuilds it from nothing. Either way every child keeps their account and is
linked back to it by the merge, and no account is created twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from app.config import RetentionSettings
from app.kit.crypto import SecretBox
from app.kit.time import pinned, utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import Band, MisClass, MisStudent, Pupil, School, SyncRun, UploaderDecision
from app.sync.connection.flow import process_event
from app.sync.mirror.flow import run_read
from app.sync.retention.flow import BATCH, purge_mirrors
from app.webhooks.intake import store_event
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from app.wonde.sandbox.webhook import webhook_payload
from tests.fixtures.database import Committed
from tests.fixtures.schools import merge, onboarded

pytestmark = pytest.mark.wonde(attempts=1)

REVOKED = datetime(2027, 1, 11, 16, 20, tzinfo=UTC)
DAYS = RetentionSettings().mirror_after_consent_days


async def _deliver(committed: Committed, box: SecretBox, wonde: WondeClient, payload: dict[str, Any]) -> None:
    """Wonde sends the event; a worker acts on it."""
    async with unit_of_work(committed.sessionmaker, None) as session:
        stored = await store_event(session, json.dumps(payload).encode(), "application/json", box)
    assert await process_event(committed.sessionmaker, None, wonde, box, uuid.UUID(stored.event_id)) == "processed"


async def _mirrors_purged(committed: Committed) -> int:
    """The daily job's mirror rule, as of now (the job's other rules sweep every school: left out here)."""
    cutoff = utc_now() - timedelta(days=DAYS)
    return (await purge_mirrors(committed.sessionmaker, cutoff, BATCH))["mirrors_purged"]


async def _state(committed: Committed, school_id: str) -> dict[str, Any]:
    """Who follows whom: each account's student (by Wonde id), each class's band, the mirror's row ids."""
    async with committed.sessionmaker() as session:
        pupils = (
            await session.execute(
                select(Pupil.id, Pupil.username, MisStudent.wonde_id)
                .outerjoin(MisStudent, MisStudent.id == Pupil.mis_student_id)
                .where(Pupil.school_id == school_id)
            )
        ).all()
        bands = (
            await session.execute(
                select(MisClass.wonde_id, Band.id)
                .join(Band, Band.mis_class_id == MisClass.id)
                .where(Band.school_id == school_id)
            )
        ).all()
        students = (
            await session.execute(select(MisStudent.wonde_id, MisStudent.id).where(MisStudent.school_id == school_id))
        ).all()
        school = await session.get(School, school_id)
    assert school is not None
    return {
        "links": {pupil_id: wonde_id for pupil_id, _, wonde_id in pupils},
        "usernames": sorted(username for _, username, _ in pupils),
        "bands": dict(bands),
        "students": dict(students),
        "school": (school.state, school.consent_ended_at),
    }


async def _synced_then_revoked(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, box: SecretBox
) -> tuple[str, str, dict[str, Any]]:
    """A syncing school (every class imported), and then Wonde's ``accessRevoked``: (ours, Wonde's, before)."""
    with pinned(REVOKED - timedelta(days=100)):
        school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=40)
    before = await _state(committed, school_id)
    assert before["links"] and all(before["links"].values())
    with pinned(REVOKED):
        await _deliver(committed, box, wonde, webhook_payload(sandbox.state, wonde_school, "accessRevoked"))
    after = await _state(committed, school_id)
    assert after["school"] == ("disconnected", REVOKED)
    assert set(after["links"].values()) == {None}
    return school_id, wonde_school, before


async def _approve_read_and_merge(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    school_id: str,
    wonde_school: str,
    bands: dict[str, uuid.UUID],
) -> dict[str, Any]:
    """Wonde's ``schoolApproved``, its full read, the admin matching each class to the band that followed
    it, and the merge; the mirror as the read left it."""
    await _deliver(committed, box, wonde, webhook_payload(sandbox.state, wonde_school, "schoolApproved"))
    async with committed.sessionmaker() as session:
        read = await session.scalar(
            select(SyncRun.id).where(SyncRun.school_id == school_id, SyncRun.status == "queued")
        )
    assert read is not None
    assert await run_read(committed.sessionmaker, wonde, box, read) == "succeeded"
    read_back = await _state(committed, school_id)
    assert read_back["school"] == ("approved", None)
    async with committed.sessionmaker() as session:
        await session.execute(delete(UploaderDecision).where(UploaderDecision.school_id == school_id))
        classes = await session.scalars(select(MisClass).where(MisClass.school_id == school_id))
        session.add_all(
            UploaderDecision(school_id=school_id, mis_class_id=c.id, action="match", band_id=bands[c.wonde_id])
            for c in classes
            if c.wonde_id in bands
        )
        await session.commit()
    await merge(committed.sessionmaker, box, school_id)
    return read_back


async def test_approved_again_within_30_days_the_mirror_is_reused_and_every_child_gets_their_account_back(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, box: SecretBox
) -> None:
    school_id, wonde_school, before = await _synced_then_revoked(committed, sandbox, wonde, box)
    with pinned(REVOKED + timedelta(days=DAYS) - timedelta(seconds=1)):
        assert await _mirrors_purged(committed) == 0
        read_back = await _approve_read_and_merge(
            committed, sandbox, wonde, box, school_id, wonde_school, before["bands"]
        )
    assert read_back["students"] == before["students"]  # the same rows, read into again
    with pinned(REVOKED + timedelta(days=DAYS + 30)):  # long after the old deadline: consent stands again
        assert await _mirrors_purged(committed) == 0
    after = await _state(committed, school_id)
    assert after["school"] == ("syncing", None)
    assert (after["links"], after["usernames"], after["bands"]) == (
        before["links"],
        before["usernames"],
        before["bands"],
    )


async def test_approved_again_after_the_purge_a_full_read_rebuilds_the_mirror_and_no_child_loses_their_account(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, box: SecretBox
) -> None:
    school_id, wonde_school, before = await _synced_then_revoked(committed, sandbox, wonde, box)
    with pinned(REVOKED + timedelta(days=DAYS) + timedelta(seconds=1)):
        assert await _mirrors_purged(committed) == 1
    gone = await _state(committed, school_id)
    assert (gone["students"], gone["bands"], gone["usernames"]) == ({}, {}, before["usernames"])
    with pinned(REVOKED + timedelta(days=DAYS + 5)):
        read_back = await _approve_read_and_merge(
            committed, sandbox, wonde, box, school_id, wonde_school, before["bands"]
        )
    # A fresh mirror: the same records, in new rows.
    assert read_back["students"].keys() == before["students"].keys()
    assert not set(read_back["students"].values()) & set(before["students"].values())
    after = await _state(committed, school_id)
    # Every child is linked back to the account they had (by the Wonde id the disconnect journalled), and
    # no account was made twice; each band follows its class again.
    assert (after["links"], after["usernames"], after["bands"]) == (
        before["links"],
        before["usernames"],
        before["bands"],
    )
