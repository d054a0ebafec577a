"""After consent ends, a school's MIS mirror goes: deleted by the daily job once
``retention.mirror_after_consent_days`` (30) have passed since the school disconnected, never sooner, and
never its accounts, bands, memberships or journal. Each test runs inside the test's transaction (the
job's commits are savepoints), with the clock pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import RetentionSettings
from app.kit.crypto import SecretBox
from app.kit.time import pinned, utc_now
from app.models import (
    Band,
    BandMembership,
    ChangeRow,
    MisClass,
    MisGroup,
    MisMembership,
    MisRecordIssue,
    MisStudent,
    Pupil,
    School,
    UploaderDecision,
)
from app.models.school import SchoolState
from app.models.sync_run import RunTrigger
from app.schools.service import connect_to_wonde
from app.sync.connection.service import disconnect_school, reject_approval
from app.sync.retention.flow import apply_retention
from tests.fixtures.database import Sessionmaker, savepoint_sessionmaker, statements_seen
from tests.fixtures.schools import SmallSchool, decide, small_school

DISCONNECTED = datetime(2027, 1, 11, 16, 20, tzinfo=UTC)
DEADLINE = DISCONNECTED + timedelta(days=30)
SECOND = timedelta(seconds=1)
RETENTION = RetentionSettings()
MIRROR = (MisStudent, MisClass, MisGroup, MisMembership, MisRecordIssue)


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> Sessionmaker:
    """The job's own transactions, as savepoints of the test's (rolled back at the end)."""
    return savepoint_sessionmaker(connection)


async def _synced_school(session: AsyncSession) -> SmallSchool:
    """A small school that synced: its band follows 4B, two accounts follow their students, the admin
    decided 4B, a registration group, and a read recorded an issue."""
    school = await small_school(session)
    row = await session.get(School, school.school_id)
    assert row is not None
    row.state, row.last_full_read_at = SchoolState.SYNCING, utc_now()
    school.band.mis_class_id = school.form.id
    for pupil, student in zip(school.pupils[:2], school.students[:2], strict=True):
        pupil.mis_student_id = student.id
    session.add(decide(school, school.form, "match", school.band))
    registration = MisGroup(school_id=school.school_id, wonde_id="G-4", name="Reg 4", type="REGISTRATION")
    session.add(registration)
    await session.flush()
    session.add(
        MisMembership(school_id=school.school_id, mis_student_id=school.students[0].id, mis_group_id=registration.id)
    )
    session.add(
        MisRecordIssue(
            school_id=school.school_id,
            record="student",
            wonde_id="S9",
            code="cleaned",
            fields="forename",
            first_seen_at=utc_now(),
            last_seen_at=utc_now(),
        )
    )
    await session.commit()
    return school


async def _count(session: AsyncSession, model: Any, school_id: str) -> int:
    counted = await session.scalar(select(func.count()).select_from(model).where(model.school_id == school_id))
    return int(counted or 0)


async def _mirror(session: AsyncSession, school_id: str) -> dict[str, int]:
    return {model.__tablename__: await _count(session, model, school_id) for model in MIRROR}


async def _disconnect(session: AsyncSession, school_id: str) -> None:
    await disconnect_school(session, school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False)
    await session.commit()


async def test_the_mirror_goes_30_days_after_the_school_disconnects_and_not_a_second_sooner(
    session: AsyncSession, sessionmaker: Sessionmaker
) -> None:
    school = await _synced_school(session)
    connected = await _synced_school(session)  # still syncing: never touched
    with pinned(DISCONNECTED):
        await _disconnect(session, school.school_id)
    row = await session.get(School, school.school_id)
    assert row is not None
    assert row.consent_ended_at == DISCONNECTED
    mirror = await _mirror(session, school.school_id)
    assert all(mirror.values()), mirror
    kept = {model: await _count(session, model, school.school_id) for model in (Pupil, Band, BandMembership)}
    journal = await _count(session, ChangeRow, school.school_id)
    usernames = sorted(p.username for p in school.pupils)

    with pinned(DEADLINE - SECOND):
        assert (await apply_retention(sessionmaker, RETENTION))["mirrors_purged"] == 0
    assert await _mirror(session, school.school_id) == mirror

    with pinned(DEADLINE + SECOND):
        done = await apply_retention(sessionmaker, RETENTION)
    assert (done["mirrors_purged"], done["mirror_rows_deleted"]) == (1, sum(mirror.values()))
    session.expire_all()
    assert set((await _mirror(session, school.school_id)).values()) == {0}
    assert await _count(session, UploaderDecision, school.school_id) == 0  # the admin's answers about them
    # Every account, band and membership, and the journal, stay as they were.
    assert {model: await _count(session, model, school.school_id) for model in kept} == kept
    assert await _count(session, ChangeRow, school.school_id) == journal
    kept_usernames = await session.scalars(select(Pupil.username).where(Pupil.school_id == school.school_id))
    assert sorted(kept_usernames) == usernames
    row = await session.get(School, school.school_id)
    assert row is not None
    assert (row.state, row.last_full_read_at, row.consent_ended_at) == ("disconnected", None, DISCONNECTED)
    assert all((await _mirror(session, connected.school_id)).values())

    with pinned(DEADLINE + timedelta(days=1)):  # the next day: nothing left to do
        again = await apply_retention(sessionmaker, RETENTION)
    assert (again["mirrors_purged"], again["mirror_rows_deleted"]) == (0, 0)


async def test_an_approval_rejected_by_the_platform_ends_consent_too(
    session: AsyncSession, sessionmaker: Sessionmaker
) -> None:
    """Read under an approval, then a second approval the platform rejects: nothing of the school is
    bound any more, so what was read goes like a disconnected school's."""
    school = await small_school(session)
    row = await session.get(School, school.school_id)
    assert row is not None
    row.state, row.wonde_school_id = SchoolState.NEEDS_CONFIRMATION, f"W-{school.school_id}"
    await session.commit()
    with pinned(DISCONNECTED):
        await reject_approval(session, school.school_id, "platform")
        await session.commit()
    assert (row.state, row.consent_ended_at) == ("pending", DISCONNECTED)
    with pinned(DEADLINE + SECOND):
        assert (await apply_retention(sessionmaker, RETENTION))["mirrors_purged"] == 1
    assert set((await _mirror(session, school.school_id)).values()) == {0}


async def test_a_school_linked_again_after_its_disconnect_keeps_its_mirror_and_the_job_goes_on(
    session: AsyncSession, sessionmaker: Sessionmaker
) -> None:
    """The disconnect was undone (links back, the school still disconnected): deleting the mirror under
    the links would fail, and unlinking would be an unjournalled change, so that school waits (counted,
    logged) while the others are purged."""
    linked_again, other = await _synced_school(session), await _synced_school(session)
    with pinned(DISCONNECTED):
        await _disconnect(session, linked_again.school_id)
        await _disconnect(session, other.school_id)
    linked_again.pupils[0].mis_student_id = linked_again.students[0].id
    await session.commit()
    with pinned(DEADLINE + SECOND):
        done = await apply_retention(sessionmaker, RETENTION)
    assert (done["mirrors_purged"], done["mirrors_kept_linked"]) == (1, 1)
    assert all((await _mirror(session, linked_again.school_id)).values())
    assert set((await _mirror(session, other.school_id)).values()) == {0}


async def test_a_reconnection_within_the_window_keeps_the_mirror(
    session: AsyncSession, sessionmaker: Sessionmaker, box: SecretBox
) -> None:
    """Approved again two days before the deadline (the operator's ``bandsync connect``; the webhook's
    approval, against the sandbox, is ``test_reconnection.py``): consent stands again, nothing goes."""
    school = await _synced_school(session)
    with pinned(DISCONNECTED):
        await _disconnect(session, school.school_id)
    with pinned(DEADLINE - timedelta(days=2)):
        await connect_to_wonde(session, school.school_id, wonde_school_id="W1", token="t", domain=None, box=box)
        await session.commit()
    row = await session.get(School, school.school_id)
    assert row is not None
    assert (row.state, row.consent_ended_at) == ("approved", None)
    with pinned(DEADLINE + timedelta(days=60)):
        assert (await apply_retention(sessionmaker, RETENTION))["mirrors_purged"] == 0
    assert all((await _mirror(session, school.school_id)).values())


async def test_the_purge_costs_the_same_statements_for_one_school_as_for_many(
    session: AsyncSession, sessionmaker: Sessionmaker, connection: AsyncConnection
) -> None:
    seen: dict[int, int] = {}
    for schools in (1, 4):
        ids = [(await _synced_school(session)).school_id for _ in range(schools)]
        with pinned(DISCONNECTED):
            for school_id in ids:
                await _disconnect(session, school_id)
        with (
            pinned(DEADLINE + SECOND),
            statements_seen(connection, lambda sql: "SAVEPOINT" not in sql) as statements,
        ):
            assert (await apply_retention(sessionmaker, RETENTION))["mirrors_purged"] == schools
        seen[schools] = len(statements)
    assert seen[1] == seen[4], seen


async def test_schools_are_purged_in_batches(session: AsyncSession, sessionmaker: Sessionmaker) -> None:
    ids = [(await _synced_school(session)).school_id for _ in range(3)]
    with pinned(DISCONNECTED):
        for school_id in ids:
            await _disconnect(session, school_id)
    with pinned(DEADLINE + SECOND):
        assert (await apply_retention(sessionmaker, RETENTION, batch=2))["mirrors_purged"] == 3
    for school_id in ids:
        assert set((await _mirror(session, school_id)).values()) == {0}
