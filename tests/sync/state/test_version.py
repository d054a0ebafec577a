"""The state version (``app.sync.state.version``): every write to a school's state changes it, whoever
makes it and through whichever table; reads and writes that are not the school's state leave it alone.

The walk reads the tables from the database, not from a list: a new table with a ``school_id`` fails
here until it is versioned (its triggers) or said not to be state (``UNVERSIONED_TABLES``)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Base
from app.kit.time import utc_now
from app.models import ChangeRow, Credential, ErasedStudent, MisGroup, SyncRun, WebhookEvent
from app.models.mis_record_issue import MisRecordIssue
from app.sync.mirror.flow import write_read
from app.sync.mirror.read import MisRead
from app.sync.state.repository import state_version
from app.sync.state.version import UNVERSIONED_TABLES, VERSIONED_TABLES
from app.wonde.schemas import WondeClass
from tests.fixtures.app import TokenFactory
from tests.fixtures.schools import SmallSchool, decide, small_school


async def _version(session: AsyncSession, school_id: str) -> int:
    version = await state_version(session, school_id)
    assert version is not None
    return version


async def _on_rows(session: AsyncSession, statement: str, table: str, school_id: str) -> object:
    """``statement`` (SELECT count(*), SELECT *, UPDATE, DELETE) on the school's rows of ``table``."""
    # Table names from the catalogue. An update that changes no value is still a write: it counts.
    sql = {
        "count": f"SELECT count(*) FROM {table} WHERE school_id = :s",  # noqa: S608
        "read": f"SELECT * FROM {table} WHERE school_id = :s",  # noqa: S608
        "update": f"UPDATE {table} SET school_id = school_id WHERE school_id = :s",  # noqa: S608
        "delete": f"DELETE FROM {table} WHERE school_id = :s",  # noqa: S608
    }[statement]
    result = await session.execute(text(sql), {"s": school_id})
    return result.scalar() if statement == "count" else None


async def _tables_with_a_school(session: AsyncSession) -> set[str]:
    rows = await session.execute(
        text(
            "SELECT table_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND column_name = 'school_id'"
        )
    )
    return {name for (name,) in rows}


async def _a_row_in_every_table(session: AsyncSession) -> SmallSchool:
    """``small_school``, and at least one row of it in every table that has a ``school_id``."""
    school = await small_school(session)
    now = utc_now()
    run = SyncRun(school_id=school.school_id, kind="merge", trigger="manual", status="queued", actor="test")
    session.add_all(
        [
            run,
            decide(school, school.form, "match", school.band),
            MisGroup(school_id=school.school_id, wonde_id="G-4B", name="4B", type="REGISTRATION", year_group=4),
            MisRecordIssue(
                school_id=school.school_id,
                record="student",
                wonde_id="S-bad",
                code="quarantined",
                fields="forename",
                first_seen_at=now,
                last_seen_at=now,
            ),
            ErasedStudent(school_id=school.school_id, wonde_id="S-erased", erased_at=now),
            Credential(
                school_id=school.school_id,
                pupil_id=school.pupils[0].id,
                password_encrypted=b"sealed",
                expires_at=now + timedelta(days=7),
            ),
            WebhookEvent(dedupe_key="k" * 64, payload_type="schoolApproved", school_id=school.school_id, payload={}),
        ]
    )
    await session.flush()
    session.add(
        ChangeRow(
            school_id=school.school_id,
            run_id=run.id,
            entity_type="pupil",
            entity_id=str(school.pupils[0].id),
            pupil_id=school.pupils[0].id,
            action="rename_pupil",
        )
    )
    await session.flush()
    return school


async def test_every_table_with_a_school_is_either_versioned_or_said_not_to_be_state(session: AsyncSession) -> None:
    tables = await _tables_with_a_school(session)
    assert not VERSIONED_TABLES.keys() & UNVERSIONED_TABLES.keys()
    assert tables == VERSIONED_TABLES.keys() | UNVERSIONED_TABLES.keys(), (
        "a table with a school_id is in neither app.sync.state.version.VERSIONED_TABLES (give it the"
        " triggers of migration 5b7e0c9d4a21) nor UNVERSIONED_TABLES (say why it is not the school's state)"
    )


async def test_a_write_to_any_versioned_table_changes_the_version_and_reads_do_not(session: AsyncSession) -> None:
    school = await _a_row_in_every_table(session)
    other = await small_school(session)
    tables = await _tables_with_a_school(session)
    for table in sorted(tables):
        rows = await _on_rows(session, "count", table, school.school_id)
        assert rows, f"the walk needs a row of the school in {table}: add one to _a_row_in_every_table"
    for table in sorted(tables):
        before, others = await _version(session, school.school_id), await _version(session, other.school_id)
        await _on_rows(session, "read", table, school.school_id)
        assert await _version(session, school.school_id) == before, f"a read of {table} changed the version"
        await _on_rows(session, "update", table, school.school_id)
        after = await _version(session, school.school_id)
        if table in VERSIONED_TABLES:
            assert after != before, f"a write to {table} left the school's state version as it was"
        else:
            assert after == before, f"a write to {table} (not the school's state) changed the version"
        assert await _version(session, other.school_id) == others, f"a write to {table} changed another school's"
    # Deletes too, each table's rows after those that refer to them.
    async with session.begin_nested() as savepoint:
        for table in [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in VERSIONED_TABLES]:
            before = await _version(session, school.school_id)
            await _on_rows(session, "delete", table, school.school_id)
            assert await _version(session, school.school_id) != before, f"deleting the rows of {table} changed nothing"
        await savepoint.rollback()


async def test_a_statement_that_writes_no_row_leaves_the_version_alone(session: AsyncSession) -> None:
    school = await small_school(session)
    before = await _version(session, school.school_id)
    await session.execute(
        text("UPDATE pupils SET year_group = 9 WHERE school_id = :s AND false"), {"s": school.school_id}
    )
    await session.execute(text("DELETE FROM bands WHERE school_id = :s AND false"), {"s": school.school_id})
    assert await _version(session, school.school_id) == before


async def test_an_audit_entry_and_login_details_leave_the_version_and_the_schools_row_alone(
    session: AsyncSession,
) -> None:
    """A download of login details journals an audit entry (no run) after taking the run's login details:
    neither may touch the school's row, or a download would wait for a merge or an undo holding it (and
    lock in the opposite order to an undo clearing those login details)."""
    school = await small_school(session)
    before = await _version(session, school.school_id)
    session.add(
        ChangeRow(
            school_id=school.school_id,
            run_id=None,
            actor="ms.khan@oak.example",
            entity_type="school",
            entity_id=school.school_id,
            action="download_login_details",
            status="applied",
            after={"format": "csv", "rows": 0},
        )
    )
    session.add(
        Credential(
            school_id=school.school_id,
            pupil_id=school.pupils[0].id,
            password_encrypted=b"sealed",
            expires_at=utc_now() + timedelta(days=7),
        )
    )
    await session.flush()
    await session.execute(
        text("UPDATE credentials SET password_encrypted = NULL WHERE school_id = :s"), {"s": school.school_id}
    )
    assert await _version(session, school.school_id) == before


async def test_the_schools_own_row_changes_it_but_not_by_its_version_alone(session: AsyncSession) -> None:
    school = await small_school(session)
    before = await _version(session, school.school_id)
    await session.execute(text("UPDATE schools SET hold_min_pupils = 9 WHERE id = :s"), {"s": school.school_id})
    settings = await _version(session, school.school_id)
    assert settings != before
    # Setting the version itself (what the tables' triggers do) takes that value and no other.
    await session.execute(text("UPDATE schools SET state_version = 7 WHERE id = :s"), {"s": school.school_id})
    assert await _version(session, school.school_id) == 7
    await session.execute(text("UPDATE schools SET name = name WHERE id = :s"), {"s": school.school_id})
    assert await _version(session, school.school_id) == 7, "a write that changes no column is no change of the school"


async def test_versions_are_never_reused(session: AsyncSession) -> None:
    first = await small_school(session)
    async with session.begin_nested() as savepoint:
        await session.execute(text("UPDATE bands SET name = 'X' WHERE school_id = :s"), {"s": first.school_id})
        rolled_back = await _version(session, first.school_id)
        await savepoint.rollback()
    second = await small_school(session)
    await session.execute(text("UPDATE bands SET name = 'Y' WHERE school_id = :s"), {"s": first.school_id})
    seen = {await _version(session, first.school_id), await _version(session, second.school_id)}
    assert rolled_back not in seen and len(seen) == 2


async def test_each_kind_of_write_changes_the_version(
    session: AsyncSession, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    """Through the service, as the product makes them: decisions, a roster import, pupils, bands, the
    school's settings, an erasure and a read of the MIS; and the reads of those screens do not."""
    school = await small_school(session)
    school_id, headers = school.school_id, auth(school.school_id)
    base = f"/v1/schools/{school_id}"
    reads = [
        f"{base}",
        f"{base}/uploader",
        f"{base}/uploader/issues",
        f"{base}/uploader/preview",
        f"{base}/pupils",
        f"{base}/bands",
        f"{base}/changes",
        f"{base}/runs",
    ]
    writes: list[tuple[str, str, dict[str, object]]] = [
        ("decision", "PUT", {"url": f"{base}/uploader/classes/C-4C", "json": {"action": "import"}}),
        ("resolution", "PUT", {"url": f"{base}/uploader/pupils/S7", "json": {"resolution": "skip"}}),
        ("resolution taken back", "DELETE", {"url": f"{base}/uploader/pupils/S7"}),
        (
            "roster",
            "POST",
            {
                "url": f"{base}/roster",
                "content": "pupil_id,first_name,last_name,band,year_group\np9,Amy,Jones,Class 4B,4\n",
                "headers": {"content-type": "text/csv"},
            },
        ),
        ("pupil", "PATCH", {"url": f"{base}/pupils/{school.pupils[1].id}", "json": {"year_group": 5}}),
        ("band", "PATCH", {"url": f"{base}/bands/{school.band.id}", "json": {"name": "Class 4B (new)"}}),
        ("settings", "PATCH", {"url": base, "json": {"hold_min_pupils": 10}}),
        ("erasure", "POST", {"url": f"{base}/pupils/{school.pupils[2].id}/erase"}),
    ]
    for label, method, request in writes:
        before = await _version(session, school_id)
        for url in reads:
            assert (await client.get(url, headers=headers)).status_code == 200, url
        assert await _version(session, school_id) == before, f"reading the screens changed the version ({label})"
        request_headers = {**headers, **request.pop("headers", {})}  # type: ignore[dict-item]
        response = await client.request(method, headers=request_headers, **request)  # type: ignore[arg-type]
        assert response.status_code < 300, (label, response.text)
        assert await _version(session, school_id) != before, f"{label} left the version as it was"
    before = await _version(session, school_id)
    await write_read(session, school_id, MisRead().finish(), complete=False)
    assert await _version(session, school_id) == before, "a read that brought nothing changed the version"
    read = MisRead()
    read.add_class(WondeClass.model_validate({"id": "C-4B", "name": "4B (renamed in the MIS)"}))
    await write_read(session, school_id, read.finish(), complete=False)
    assert await _version(session, school_id) != before, "a read that renamed a class left the version as it was"
