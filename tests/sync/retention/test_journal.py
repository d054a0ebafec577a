"""The journal's values are kept for ``retention.journal_values_days`` (730): after that the daily job
redacts them — every row, action, id, status and actor stays, the values that can hold a child's data go
— except in a held change still waiting for an admin. The journal still reads through the API, and undo
of a redacted run is refused cleanly. In the test's transaction (the job's commits are savepoints), with
the clock pinned."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import RetentionSettings
from app.kit.time import pinned
from app.models import Band, ChangeRow, ChangeStatus, Pupil, SyncRun
from app.sync.core.changes import AddToBand, ChangeYear, CreatePupil, RenameBand, RenamePupil
from app.sync.journal.entries import Action, Entry, Facts, Subject, journal, unlinked_pupil
from app.sync.journal.writer import record
from app.sync.retention.flow import apply_retention
from tests.fixtures.app import TokenFactory
from tests.fixtures.schools import SmallSchool, small_school

WRITTEN = datetime(2027, 2, 1, 3, 10, tzinfo=UTC)
DEADLINE = WRITTEN + timedelta(days=730)
SECOND = timedelta(seconds=1)
RETENTION = RetentionSettings()
# What a child's data may be, anywhere in a before or after.
NAMES = {"Amelia", "Hartley", "Amy", "Oscar", "Nowak", "Ossie", "Priya", "priya.raman", "Class 4B", "Class 5B"}


async def _run(session: AsyncSession, school: SmallSchool, entries: list[Entry]) -> uuid.UUID:
    run = SyncRun(school_id=school.school_id, kind="reconcile", trigger="schedule", status="succeeded", actor="sync")
    session.add(run)
    await session.flush()
    await record(session, school.school_id, run.id, "sync", entries)
    await session.commit()
    return run.id


async def _history(session: AsyncSession) -> tuple[SmallSchool, uuid.UUID]:
    """A sync that renamed Amelia to Amy, moved Oscar up a year, created Priya's account, put her in the
    band, renamed the band, and held a rename of Oscar (still waiting) and one rejected; and a disconnect
    entry (ids only)."""
    school = await small_school(session)
    amelia, oscar, priya = school.pupils[0], school.pupils[1], school.pupils[2]
    amelia.first_name, oscar.year_group, school.band.name = "Amy", 5, "Class 5B"
    await session.flush()
    facts = Facts(WRITTEN, {}, {priya.id: "priya.raman"}, {}, {})
    planned = journal(
        [
            RenamePupil(str(amelia.id), ("Amelia", "Hartley"), ("Amy", "Hartley")),
            ChangeYear(str(oscar.id), 4, 5),
            CreatePupil(str(priya.id), "S2", "Priya", "Raman", 4),
            AddToBand(str(school.band.id), str(priya.id)),
            RenameBand(str(school.band.id), "Class 4B", "Class 5B"),
        ],
        facts,
    )
    held_rename = {
        "type": "RenamePupil",
        "pupil": str(oscar.id),
        "before": ["Oscar", "Nowak"],
        "after": ["Ossie", "Nowak"],
    }
    held = [
        Subject.pupil(oscar.id).entry(
            Action.HELD, None, {"change": held_rename, "reason": "held until an admin approves"}, ChangeStatus.HELD
        ),
        Subject.pupil(oscar.id).entry(
            Action.HELD, None, {"change": held_rename, "reason": "held until an admin approves"}, ChangeStatus.REJECTED
        ),
    ]
    school.pupils[3].mis_student_id = school.students[3].id
    unlinked = unlinked_pupil(school.pupils[3], "S3")  # as a disconnect journals it
    school.pupils[3].mis_student_id = None
    with pinned(WRITTEN):
        run_id = await _run(session, school, [*planned, *held, unlinked])
    return school, run_id


def _texts(values: Any) -> set[str]:
    """Every string in a value, all the way down."""
    if isinstance(values, dict):
        return _texts(list(values.values()))
    if isinstance(values, list | tuple):
        return set().union(*(_texts(v) for v in values))
    return {values} if isinstance(values, str) else set()


def _keys(values: Any) -> Any:
    """The shape of a value: its keys, all the way down."""
    return {k: _keys(v) for k, v in values.items()} if isinstance(values, dict) else None


def _identity(row: ChangeRow) -> tuple[Any, ...]:
    """What the journal keeps of a row whatever its age."""
    return (row.id, row.action, row.status, row.actor, row.entity_type, row.entity_id, row.pupil_id, row.band_id)


async def _rows(session: AsyncSession, run_id: uuid.UUID) -> list[ChangeRow]:
    session.expire_all()
    return list(await session.scalars(select(ChangeRow).where(ChangeRow.run_id == run_id).order_by(ChangeRow.id)))


async def test_values_are_redacted_730_days_after_they_were_written_and_not_a_second_sooner(
    app: FastAPI, session: AsyncSession
) -> None:
    school, run_id = await _history(session)
    band_id, priya, oscar, student = school.band.id, school.pupils[2].id, school.pupils[1].id, school.students[3].id
    written = [_identity(r) for r in await _rows(session, run_id)]
    values = {r.id: (r.before, r.after) for r in await _rows(session, run_id)}
    assert _texts(values) & NAMES  # the child's data is there to start with

    with pinned(DEADLINE - SECOND):
        assert (await apply_retention(app.state.sessionmaker, RETENTION))["journal_rows_redacted"] == 0
    assert {r.id: (r.before, r.after) for r in await _rows(session, run_id)} == values

    with pinned(DEADLINE + SECOND) as now:
        done = await apply_retention(app.state.sessionmaker, RETENTION)
    rows = await _rows(session, run_id)
    waiting = [r for r in rows if r.status == ChangeStatus.HELD]
    assert done["journal_rows_redacted"] == len(rows) - len(waiting) == 7
    # The journal's shape and counts stay: every row, action, status, actor and id.
    assert [_identity(r) for r in rows] == written
    for row in rows:
        if row in waiting:  # still waiting for an admin: shown and decided exactly as held
            assert ((row.before, row.after), row.redacted_at) == (values[row.id], None)
            continue
        assert row.redacted_at == now
        assert (_keys(row.before), _keys(row.after)) == tuple(_keys(v) for v in values[row.id])
        assert not _texts([row.before, row.after]) & NAMES, row.action
    redacted = {r.action: (r.before, r.after) for r in rows if r.redacted_at}
    assert redacted["rename_pupil"] == (
        {"first_name": None, "last_name": None},
        {"first_name": None, "last_name": None},
    )
    assert redacted["change_year"] == ({"year_group": None}, {"year_group": None})
    assert redacted["create_pupil"] == (None, {"student": "S2", "username": None})
    assert redacted["add_to_band"] == (None, {"band_id": str(band_id), "pupil_id": str(priya)})
    assert redacted["rename_band"] == ({"name": None}, {"name": None})
    # The ids a reconnection needs to give each child their account back stay.
    assert redacted["unlink_pupil"] == (
        {"mis_student_id": str(student), "student": "S3"},
        {"mis_student_id": None},
    )
    assert redacted["held"] == (  # the rejected one
        None,
        {
            "change": {"type": "RenamePupil", "pupil": str(oscar), "before": None, "after": None},
            "reason": "held until an admin approves",
        },
    )

    with pinned(DEADLINE + timedelta(days=1)):  # the next day: nothing left to do
        assert (await apply_retention(app.state.sessionmaker, RETENTION))["journal_rows_redacted"] == 0


async def test_a_redacted_journal_still_reads_through_the_api(
    app: FastAPI, client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school, run_id = await _history(session)
    headers = auth(school.school_id, role="teacher")  # minted on the real clock, like the app's login
    amelia = school.pupils[0]
    with pinned(DEADLINE + SECOND) as now:
        await apply_retention(app.state.sessionmaker, RETENTION)
        listed = await client.get(
            f"/v1/schools/{school.school_id}/changes", params={"run_id": str(run_id)}, headers=headers
        )
        timeline = await client.get(f"/v1/schools/{school.school_id}/pupils/{amelia.id}/timeline", headers=headers)
        held = await client.get(f"/v1/schools/{school.school_id}/held-changes", headers=headers)
    assert (listed.status_code, timeline.status_code, held.status_code) == (200, 200, 200)
    items = listed.json()["items"]
    assert listed.json()["total"] == len(items) == 8
    assert {item["action"] for item in items} == {
        "rename_pupil", "change_year", "create_pupil", "add_to_band", "rename_band", "held", "unlink_pupil"
    }  # fmt: skip
    assert sorted(item["redacted_at"] is None for item in items) == [False] * 7 + [True]
    assert {datetime.fromisoformat(item["redacted_at"]) for item in items if item["redacted_at"]} == {now}
    assert not _texts([[item["before"], item["after"]] for item in items if item["redacted_at"]]) & NAMES
    [renamed] = timeline.json()
    assert (renamed["action"], renamed["before"], renamed["after"]) == (
        "rename_pupil",
        {"first_name": None, "last_name": None},
        {"first_name": None, "last_name": None},
    )
    assert datetime.fromisoformat(renamed["redacted_at"]) == now
    [waiting] = held.json()
    assert waiting["change"]["after"] == ["Ossie", "Nowak"]


async def test_undoing_a_redacted_run_is_refused_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school, run_id = await _history(session)
    headers = auth(school.school_id)
    amelia, oscar = school.pupils[0], school.pupils[1]
    amelia_id, oscar_id, band_id = amelia.id, oscar.id, school.band.id
    renamed = RenamePupil(str(oscar_id), ("Oscar", "Nowak"), ("Ossie", "Nowak"))
    with pinned(WRITTEN + timedelta(days=1)):  # a run a day later: still within its 730 days then
        later = await _run(session, school, journal([renamed], Facts(WRITTEN, {}, {}, {}, {})))
    oscar.first_name = "Ossie"
    await session.commit()
    with pinned(DEADLINE + SECOND):
        await apply_retention(app.state.sessionmaker, RETENTION)
        refused = await client.post(f"/v1/schools/{school.school_id}/runs/{run_id}/undo", headers=headers)
        undone = await client.post(f"/v1/schools/{school.school_id}/runs/{later}/undo", headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "UndoTooLate"
    assert "older than the journal keeps the details of its changes" in refused.json()["detail"]
    session.expire_all()
    names = await session.execute(select(Pupil.first_name, Pupil.year_group).where(Pupil.id == amelia_id))
    assert names.one() == ("Amy", 4)  # not put back, and above all not nulled
    assert {r.status for r in await _rows(session, run_id)} == {"applied", "held", "rejected"}
    band = await session.get(Band, band_id)
    assert band is not None
    assert band.name == "Class 5B"
    # A run still within its period is undone as ever.
    assert undone.status_code == 200, undone.text
    assert await session.scalar(select(Pupil.first_name).where(Pupil.id == oscar_id)) == "Oscar"
