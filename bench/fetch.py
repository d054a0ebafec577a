"""Benchmark: reading a school from the Wonde sandbox into the MIS mirror, over real HTTP.

For generated secondary schools (500 and 2,000 pupils): a full read into an empty mirror, a second
full read (nothing changes), and a delta read after 20 MIS events. Prints wall time, HTTP requests and
SQL statements for each; the statement count must not grow with the number of pupils.

    .venv/bin/python -m bench.fetch

Uses its own scratch database and an in-process sandbox on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.sync.mirror.flow import run_read
from app.wonde.client import WondeClient, create_http_client
from app.wonde.sandbox.server import SandboxServer, running_sandbox
from tests.fixtures.database import create_migrated_database, drop_database

EVENTS = (
    [{"kind": "joiner"}] * 5
    + [{"kind": "leaver"}] * 3
    + [{"kind": "rename"}] * 4
    + [{"kind": "move"}] * 5
    + [{"kind": "change_year", "year": 10}] * 3
)
assert len(EVENTS) == 20


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: Any) -> None:
        self.count += 1


async def _measure(database_url: str, sandbox: SandboxServer, pupils: int) -> list[tuple[str, float, int, int]]:
    admin = httpx.AsyncClient(base_url=sandbox.admin_url, timeout=120)
    generated = await admin.post("/schools/generate", json={"phase": "secondary", "pupils": pupils, "seed": 11})
    wonde_school = generated.json()
    engine = create_async_engine(database_url)
    statements = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", statements)
    sessionmaker = create_sessionmaker(engine)
    box = SecretBox(Settings().encryption_key)
    school_id = f"bench-{uuid.uuid4().hex[:8]}"
    async with unit_of_work(sessionmaker, None) as session:
        session.add(
            School(
                id=school_id,
                name="Bench",
                urn=wonde_school["urn"],
                wonde_school_id=wonde_school["school_id"],
                wonde_domain=sandbox.base_url.split("/")[2],
                wonde_token_encrypted=box.encrypt(wonde_school["token"]),
            )
        )
    results = []
    async with create_http_client() as http:
        wonde = WondeClient(http, base_url=sandbox.base_url)
        for label, kind in (
            ("full read (empty mirror)", "full_read"),
            ("full read (no change)", "full_read"),
            ("delta read after 20 events", "delta_read"),
        ):
            if kind == "delta_read":
                for item in EVENTS:
                    (await admin.post(f"/schools/{wonde_school['school_id']}/events", json=item)).raise_for_status()
            async with unit_of_work(sessionmaker, None) as session:
                run = SyncRun(school_id=school_id, kind=kind, trigger="manual", status="queued")
                session.add(run)
            statements.count = 0
            started = time.perf_counter()
            status = await run_read(sessionmaker, wonde, box, run.id)
            elapsed = time.perf_counter() - started
            async with sessionmaker() as session:
                finished = await session.get(SyncRun, run.id)
            assert finished is not None
            assert status == "succeeded", finished.error
            results.append((label, elapsed, finished.requests_made, statements.count))
    await engine.dispose()
    await admin.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pupils", type=int, nargs="+", default=[500, 2000])
    args = parser.parse_args()
    name = f"bandsync_bench_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(name)
    try:
        with running_sandbox() as sandbox:
            for pupils in args.pupils:
                print(f"secondary school, {pupils} pupils:")
                print(f"  {'read':30} {'wall s':>8} {'HTTP':>6} {'SQL':>5}")
                for label, seconds, requests, statements in asyncio.run(_measure(url, sandbox, pupils)):
                    print(f"  {label:30} {seconds:8.2f} {requests:6d} {statements:5d}")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
