"""Benchmark: a whole school new to the app, 2,000 accounts created by one merge.

A generated 2,000-pupil secondary is read into the mirror of a school that has no app accounts yet;
every MIS class is imported in the uploader, so the merge creates an account (and a password, hashed
with the service's own argon2 settings) for every student. Times the merge job alone, and hashing
2,000 passwords alone on the same path, and prints the load average before and after (the figures
mean little on a busy machine).

    .venv/bin/python -m bench.whole_school --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import Pupil, School, SyncRun
from app.pupils import credentials
from app.sync.mirror.flow import write_read
from app.sync.onboarding.flow import run_merge
from app.wonde.sandbox.generate import generate_school
from tests.fixtures.database import Sessionmaker, create_migrated_database, drop_database
from tests.fixtures.schools import import_every_class, mis_read, new_run

PUPILS = 2000


async def _school_new_to_the_app(sessionmaker: Sessionmaker, seed: int) -> str:
    """The MIS read into the mirror, no app accounts, every MIS class to be imported."""
    school_id = f"bench-{uuid.uuid4().hex[:8]}"
    dump = generate_school("secondary", PUPILS, seed)
    async with unit_of_work(sessionmaker, None) as session:
        session.add(School(id=school_id, name="Bench Academy", state="approved", urn=str(dump["school"]["urn"])))
    async with unit_of_work(sessionmaker, None) as session:
        await write_read(session, school_id, mis_read(dump), complete=True)
    await import_every_class(sessionmaker, school_id)
    return school_id


class Timed:
    """Wall time and this process's CPU time (every thread's) of a step: CPU over wall is how many
    cores the step kept busy."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


async def _merge(database_url: str, box: SecretBox, seed: int) -> tuple[tuple[float, float], int]:
    engine = create_async_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        school_id = await _school_new_to_the_app(sessionmaker, seed)
        run_id = await new_run(sessionmaker, school_id, "merge", actor=None)
        timed = Timed()
        status = await run_merge(sessionmaker, box, run_id)
        elapsed = timed.stop()
        async with sessionmaker() as session:
            run = await session.get(SyncRun, run_id)
            created = await session.scalar(select(func.count()).select_from(Pupil).where(Pupil.school_id == school_id))
        assert run is not None
        assert status == "succeeded", run.error
        return elapsed, created or 0
    finally:
        await engine.dispose()


async def _hash_alone(box: SecretBox) -> tuple[float, float]:
    """Issuing 2,000 passwords as the merge does, without the database."""
    pupil_ids = [uuid.uuid4() for _ in range(PUPILS)]
    timed = Timed()
    issued = await credentials.issue("bench", None, pupil_ids, box, utc_now())
    elapsed = timed.stop()
    assert len(issued) == PUPILS
    return elapsed


def _load() -> str:
    return "/".join(f"{figure:.2f}" for figure in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    box = SecretBox(Settings().encryption_key)
    name = f"bandsync_bench_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(name)
    figures: dict[str, list[tuple[float, float]]] = {"merge": [], "hashing alone": []}
    try:
        for index in range(args.repeat):
            before = _load()
            timed, created = asyncio.run(_merge(url, box, seed=5 + index))
            figures["merge"].append(timed)
            print(f"merge {index + 1}: {_shown(timed)}, {created} accounts created (load {before} -> {_load()})")
            before = _load()
            figures["hashing alone"].append(asyncio.run(_hash_alone(box)))
            print(
                f"hashing {PUPILS} passwords alone: {_shown(figures['hashing alone'][-1])} (load {before} -> {_load()})"
            )
    finally:
        drop_database(name)
    print(f"a whole school new to the app ({PUPILS} new accounts), {os.cpu_count()} cores:")
    for step, timings in figures.items():
        walls = [wall for wall, _ in timings]
        busy = [cpu / wall for wall, cpu in timings]
        print(
            f"  {step:14} median {statistics.median(walls):6.2f} s  max {max(walls):6.2f} s"
            f"  cores busy median {statistics.median(busy):4.2f}"
        )


def _shown(timed: tuple[float, float]) -> str:
    wall, cpu = timed
    return f"{wall:6.2f} s wall, {cpu:6.2f} s CPU ({cpu / wall:4.2f} cores)"


if __name__ == "__main__":
    main()
