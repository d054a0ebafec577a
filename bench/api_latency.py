"""Benchmark: API latency of the uploader view and the changes list for a 2,000-pupil secondary school.

The school is set up as ``bench.merge`` sets it up (read into the mirror, the app's accounts imported
in one band per form, forms matched); the API runs in its own uvicorn process on a scratch database
and is called over loopback with an admin token, one request at a time (``--requests`` each, after a
few unmeasured ones). Measured twice: while onboarding (the uploader runs the matcher on every view),
and once the school is syncing (every class imported and merged, so the journal holds the merge).

    .venv/bin/python -m bench.api_latency --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.auth import mint_token
from app.config import Settings
from app.db import create_sessionmaker
from app.kit.crypto import SecretBox
from app.models import ChangeRow
from bench.serving import ApiServer, Scratch, api_server, drop_queue, new_tag, percentile
from tests.fixtures.database import create_migrated_database, drop_database
from tests.fixtures.schools import import_all_and_merge, school_with_forms_matched

WARM_UP = 5


def _measure(client: httpx.Client, path: str, requests: int) -> tuple[list[float], int]:
    """Milliseconds per request, and the size of the last reply."""
    for _ in range(WARM_UP):
        client.get(path).raise_for_status()
    times = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return times, size


def _routes(school_id: str, stage: str) -> list[tuple[str, str]]:
    base = f"/v1/schools/{school_id}"
    routes = [(f"uploader view ({stage})", f"{base}/uploader")]
    if stage == "syncing":
        routes += [
            ("changes, first page (50)", f"{base}/changes"),
            ("changes, first page (200)", f"{base}/changes?per_page=200"),
            ("changes, page 20 (50)", f"{base}/changes?page=20"),
            ("changes of one kind (50)", f"{base}/changes?action=link_pupil"),
        ]
    return routes


async def _journal_rows(sessionmaker: async_sessionmaker[AsyncSession], school_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(ChangeRow).where(ChangeRow.school_id == school_id)
        )
    return count or 0


def run(scratch: Scratch, requests: int) -> list[tuple[str, list[float], int]]:
    engine = create_async_engine(scratch.database_url, poolclass=NullPool)
    sessionmaker = create_sessionmaker(engine)
    settings = Settings()
    box = SecretBox(settings.encryption_key)
    school_id = asyncio.run(school_with_forms_matched(sessionmaker))
    token = mint_token(settings, school_ids=[school_id], role="admin", subject="bench-admin")
    results = []
    server: ApiServer
    with api_server(scratch) as server:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            for label, path in _routes(school_id, "onboarding"):
                results.append((label, *_measure(client, path, requests)))
            asyncio.run(import_all_and_merge(sessionmaker, box, school_id))
            rows = asyncio.run(_journal_rows(sessionmaker, school_id))
            for label, path in _routes(school_id, "syncing"):
                results.append((label, *_measure(client, path, requests)))
    results.append((f"(journal rows of the school: {rows})", [], 0))
    asyncio.run(engine.dispose())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per route")
    args = parser.parse_args()
    tag = new_tag()
    scratch = Scratch(tag, create_migrated_database(f"bandsync_bench_{tag}"))
    try:
        results = run(scratch, args.requests)
    finally:
        asyncio.run(drop_queue(scratch.queue_name))
        drop_database(scratch.database_name)
    print(f"API latency, 2,000-pupil secondary, one uvicorn process, {args.requests} sequential requests per route:")
    print()
    print("| route | p50 | p95 | max | reply size |")
    print("|---|---|---|---|---|")
    for label, times, size in results:
        if not times:
            print(f"\n{label}")
            continue
        print(
            f"| {label} | {percentile(times, 0.5):.1f} ms | {percentile(times, 0.95):.1f} ms |"
            f" {max(times):.1f} ms | {size / 1024:.0f} KiB |"
        )


if __name__ == "__main__":
    main()
