"""Benchmark: the reconcile of a 2,000-pupil secondary that is syncing, with no change and with 10% of
its pupils changed in the MIS mirror (renames, year changes and class moves), next to its floor: the
reads the reconcile needs done bare, and one bulk write of the same rows.

    .venv/bin/python -m bench.reconcile
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings
from app.db import create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import unit_of_work
from app.models import MisStudent, Pupil, SyncRun
from app.models.sync_run import RunStatus
from app.sync.reconcile.flow import reconcile
from tests.fixtures.database import create_migrated_database, drop_database
from tests.fixtures.schools import syncing_school


async def _timed_reconcile(
    sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, school_id: str, counter: list[int]
) -> tuple[float, int, dict[str, int]]:
    async with unit_of_work(sessionmaker, None) as session:
        run = SyncRun(school_id=school_id, kind="reconcile", trigger="manual", status="running")
        session.add(run)
    counter[0] = 0
    started = time.perf_counter()
    async with unit_of_work(sessionmaker, None) as session:
        current = await session.get(SyncRun, run.id)
        assert current is not None
        counts = await reconcile(session, current, box)
        current.status = RunStatus.SUCCEEDED
    return time.perf_counter() - started, counter[0], counts


async def _floor(
    sessionmaker: async_sessionmaker[AsyncSession], school_id: str, counter: list[int], rows: int
) -> tuple[float, int]:
    """The same reads, bare, and one bulk write of ``rows`` pupils."""
    counter[0] = 0
    started = time.perf_counter()
    async with unit_of_work(sessionmaker, None) as session:
        for table in (
            "mis_classes",
            "mis_groups",
            "mis_students",
            "mis_memberships",
            "bands",
            "pupils",
            "band_memberships",
        ):
            await session.execute(text(f"SELECT * FROM {table} WHERE school_id = :s"), {"s": school_id})  # noqa: S608
        ids = list(await session.scalars(select(Pupil.id).where(Pupil.school_id == school_id).limit(rows)))
        await session.execute(update(Pupil), [{"id": i, "year_group": 10} for i in ids])
        await session.rollback()
    return time.perf_counter() - started, counter[0]


async def _change_ten_percent(sessionmaker: async_sessionmaker[AsyncSession], school_id: str) -> None:
    async with unit_of_work(sessionmaker, None) as session:
        students = list(
            await session.scalars(
                select(MisStudent).where(MisStudent.school_id == school_id).order_by(MisStudent.wonde_id)
            )
        )
        for index, student in enumerate(students[::10]):
            if index % 2:
                student.forename = student.forename + "a"
            else:
                student.year_group = (student.year_group or 7) + 1


async def _measure(database_url: str) -> list[tuple[str, float, int, Any]]:
    engine = create_async_engine(database_url)
    counter = [0]

    def count(*_: Any) -> None:
        counter[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    sessionmaker = create_sessionmaker(engine)
    box = SecretBox(Settings().encryption_key)
    school_id = await syncing_school(sessionmaker, box)
    results = []
    seconds, statements, counts = await _timed_reconcile(sessionmaker, box, school_id, counter)
    results.append(("first reconcile after merge", seconds, statements, counts))
    seconds, statements, counts = await _timed_reconcile(sessionmaker, box, school_id, counter)
    results.append(("reconcile, nothing changed", seconds, statements, counts))
    floor_s, floor_n = await _floor(sessionmaker, school_id, counter, 0)
    results.append(("floor: the reads alone", floor_s, floor_n, {}))
    await _change_ten_percent(sessionmaker, school_id)
    seconds, statements, counts = await _timed_reconcile(sessionmaker, box, school_id, counter)
    results.append(("reconcile, 10% changed", seconds, statements, counts))
    floor_s, floor_n = await _floor(sessionmaker, school_id, counter, 200)
    results.append(("floor: reads + one bulk write of 200", floor_s, floor_n, {}))
    await engine.dispose()
    return results


def main() -> None:
    name = f"bandsync_bench_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(name)
    try:
        results = asyncio.run(_measure(url))
    finally:
        drop_database(name)
    print("reconcile of a 2,000-pupil secondary school:")
    for label, seconds, statements, counts in results:
        print(f"  {label:38} {seconds:6.2f} s {statements:4d} SQL  {counts if counts else ''}")


if __name__ == "__main__":
    main()
