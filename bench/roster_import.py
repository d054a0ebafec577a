"""Benchmark: importing a 3,000-row roster (2,000 pupils, 1,000 second-band rows) into a fresh school,
then importing it again (nothing to change). Prints wall time per import and SQL statements per import.

    make bench        # or: .venv/bin/python -m bench.roster_import [--repeat N]

It uses its own database (created, migrated and dropped), never the development one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import create_sessionmaker
from app.kit.unit_of_work import unit_of_work
from app.models import School
from app.roster.parser import parse_roster
from app.roster.service import import_roster
from tests.fixtures.database import create_migrated_database, drop_database
from tests.fixtures.rosters import make_roster


async def _measure(database_url: str, repeat: int) -> dict[str, list[float]]:
    engine = create_async_engine(database_url)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    sessionmaker = create_sessionmaker(engine)
    data = make_roster(2000).encode()
    figures: dict[str, list[float]] = {"parse_ms": [], "first_ms": [], "again_ms": [], "first_sql": [], "again_sql": []}
    for _ in range(repeat):
        school_id = f"bench-{uuid.uuid4().hex[:8]}"
        async with unit_of_work(sessionmaker, None) as session:
            session.add(School(id=school_id, name="Bench"))
        started = time.perf_counter()
        rows = parse_roster(data)
        figures["parse_ms"].append((time.perf_counter() - started) * 1000)
        for label in ("first", "again"):
            statements = 0
            started = time.perf_counter()
            async with unit_of_work(sessionmaker, None) as session:
                await import_roster(session, school_id, rows, "bench")
            figures[f"{label}_ms"].append((time.perf_counter() - started) * 1000)
            figures[f"{label}_sql"].append(statements)
    await engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    name = f"bandsync_bench_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(name)
    try:
        figures = asyncio.run(_measure(url, args.repeat))
    finally:
        drop_database(name)
    print(f"roster import, 3,000 rows / 2,000 pupils, {args.repeat} runs (median, max):")
    for key, values in figures.items():
        print(f"  {key:10} {statistics.median(values):9.1f} {max(values):9.1f}")


if __name__ == "__main__":
    main()
