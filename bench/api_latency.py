"""Benchmark: API latency of the uploader's screens and the changes list for 2,000-pupil secondary schools.

Each school is set up as ``bench.merge`` sets it up (read into the mirror, the app's accounts imported in
one band per form, forms matched); the API runs in its own uvicorn process (one production instance) on a
scratch database and is called over loopback with an admin token. Measured, while onboarding:

1. the uploader view, issues and preview on repeat (``--requests`` each, one at a time, after a few
   unmeasured ones): what an admin going back and forth between the screens waits;
2. the view right after a decision changed (``--changes`` times: a class's decision is set, then the
   view asked for): the school's state is new, so its matcher runs again;
3. ``/healthz`` asked one request after another while ten uploader views of ten schools, each with a
   decision just changed, are computed at once (``--rounds`` times): whether the API still answers;

and, unless ``--no-syncing``, once the first school is syncing (every class imported and merged, so the
journal holds the merge): the view again and the changes list.

    .venv/bin/python -m bench.api_latency --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.auth import mint_token
from app.config import Settings
from app.db import create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.sealed_cache import namespace_for
from app.models import ChangeRow
from bench.serving import REDIS_URL, ApiServer, Scratch, api_server, drop_queue, new_tag, percentile
from tests.fixtures.database import create_migrated_database, drop_database
from tests.fixtures.schools import import_all_and_merge, school_with_forms_matched

WARM_UP = 5
SCHOOLS_AT_ONCE = 10
HEALTHZ_PAUSE_SECONDS = 0.01


@dataclass
class Figures:
    rows: list[tuple[str, list[float], int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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


def _screens(school_id: str) -> list[tuple[str, str]]:
    base = f"/v1/schools/{school_id}/uploader"
    return [
        ("`GET …/uploader` on repeat", base),
        ("`GET …/uploader/issues` on repeat", f"{base}/issues"),
        ("`GET …/uploader/preview` on repeat", f"{base}/preview"),
    ]


def _syncing_routes(school_id: str) -> list[tuple[str, str]]:
    base = f"/v1/schools/{school_id}"
    return [
        ("`GET …/uploader` (syncing) on repeat", f"{base}/uploader"),
        ("`GET …/changes` (first page, 50)", f"{base}/changes"),
        ("`GET …/changes?per_page=200`", f"{base}/changes?per_page=200"),
        ("`GET …/changes?page=20`", f"{base}/changes?page=20"),
        ("`GET …/changes?action=link_pupil`", f"{base}/changes?action=link_pupil"),
    ]


def _a_class_to_decide(client: httpx.Client, school_id: str) -> str:
    """An MIS class (a set, say) the admin has not decided about: its decision is what the bench changes."""
    rows = client.get(f"/v1/schools/{school_id}/uploader").json()
    wonde_class_id: str = next(r["wonde_class_id"] for r in rows if r["kind"] == "class" and r["decision"] is None)
    return wonde_class_id


def _decide(client: httpx.Client, school_id: str, wonde_class_id: str, turn: int) -> None:
    action = "import" if turn % 2 == 0 else "no_action"
    client.put(f"/v1/schools/{school_id}/uploader/classes/{wonde_class_id}", json={"action": action}).raise_for_status()


def _after_a_decision(client: httpx.Client, school_id: str, changes: int) -> tuple[list[float], int]:
    wonde_class_id = _a_class_to_decide(client, school_id)
    times, size = [], 0
    for turn in range(changes):
        _decide(client, school_id, wonde_class_id, turn)
        started = time.perf_counter()
        response = client.get(f"/v1/schools/{school_id}/uploader")
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return times, size


async def _ten_at_once(
    base_url: str, tokens: dict[str, str], classes: dict[str, str], turn: int
) -> tuple[list[float], float]:
    """/healthz latencies (ms) while one view per school is computed, all at once; and how long those took (s)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        for school_id, wonde_class_id in classes.items():
            response = await client.put(
                f"/v1/schools/{school_id}/uploader/classes/{wonde_class_id}",
                json={"action": "import" if turn % 2 == 0 else "no_action"},
                headers={"Authorization": f"Bearer {tokens[school_id]}"},
            )
            response.raise_for_status()
        started = time.perf_counter()
        views = [
            asyncio.create_task(
                client.get(f"/v1/schools/{s}/uploader", headers={"Authorization": f"Bearer {tokens[s]}"})
            )
            for s in classes
        ]
        health: list[float] = []
        while not all(v.done() for v in views):
            asked = time.perf_counter()
            (await client.get("/healthz")).raise_for_status()
            health.append((time.perf_counter() - asked) * 1000)
            await asyncio.sleep(HEALTHZ_PAUSE_SECONDS)
        for view in views:
            (await view).raise_for_status()
        return health, time.perf_counter() - started


async def _journal_rows(sessionmaker: async_sessionmaker[AsyncSession], school_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(ChangeRow).where(ChangeRow.school_id == school_id)
        )
    return count or 0


async def _drop_kept_answers(database_url: str) -> None:
    """The answers the API kept in Redis for the scratch database (they would expire on their own)."""
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(f"{namespace_for(database_url)}:*")]
        for start in range(0, len(keys), 500):
            await redis.delete(*keys[start : start + 500])
    finally:
        await redis.aclose()


def run(scratch: Scratch, requests: int, changes: int, rounds: int, syncing: bool) -> Figures:
    engine = create_async_engine(scratch.database_url, poolclass=NullPool)
    sessionmaker = create_sessionmaker(engine)
    settings = Settings()
    box = SecretBox(settings.encryption_key)
    schools = [asyncio.run(school_with_forms_matched(sessionmaker, seed=5 + i)) for i in range(SCHOOLS_AT_ONCE)]
    tokens = {s: mint_token(settings, school_ids=[s], role="admin", subject="bench-admin") for s in schools}
    first = schools[0]
    figures = Figures()
    server: ApiServer
    with api_server(scratch) as server:
        headers = {"Authorization": f"Bearer {tokens[first]}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
            for label, path in _screens(first):
                figures.rows.append((label, *_measure(client, path, requests)))
            figures.rows.append(
                ("`GET …/uploader` right after a decision changed", *_after_a_decision(client, first, changes))
            )
        classes = {}
        for school_id in schools:
            with httpx.Client(
                base_url=server.base_url, headers={"Authorization": f"Bearer {tokens[school_id]}"}, timeout=120
            ) as client:
                classes[school_id] = _a_class_to_decide(client, school_id)
        health: list[float] = []
        walls: list[float] = []
        for turn in range(rounds):
            latencies, wall = asyncio.run(_ten_at_once(server.base_url, tokens, classes, turn))
            health += latencies
            walls.append(wall)
        figures.rows.append((f"`GET /healthz` while {SCHOOLS_AT_ONCE} views are computed at once", health, 0))
        figures.notes.append(
            f"{SCHOOLS_AT_ONCE} views of {SCHOOLS_AT_ONCE} schools computed at once took "
            + ", ".join(f"{w:.1f} s" for w in walls)
            + f" ({len(health)} /healthz answers in all)"
        )
        if syncing:
            # A school of its own: the others' decisions were changed above.
            merged = asyncio.run(school_with_forms_matched(sessionmaker, seed=5 + SCHOOLS_AT_ONCE))
            asyncio.run(import_all_and_merge(sessionmaker, box, merged))
            rows = asyncio.run(_journal_rows(sessionmaker, merged))
            token = mint_token(settings, school_ids=[merged], role="admin", subject="bench-admin")
            with httpx.Client(
                base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as client:
                for label, path in _syncing_routes(merged):
                    figures.rows.append((label, *_measure(client, path, requests)))
            figures.notes.append(f"journal rows of the syncing school: {rows}")
    asyncio.run(engine.dispose())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per route on repeat")
    parser.add_argument("--changes", type=int, default=20, help="decisions changed, each followed by a view")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ten views at once")
    parser.add_argument("--no-syncing", dest="syncing", action="store_false", help="skip the syncing school")
    args = parser.parse_args()
    tag = new_tag()
    scratch = Scratch(tag, create_migrated_database(f"bandsync_bench_{tag}"))
    try:
        figures = run(scratch, args.requests, args.changes, args.rounds, args.syncing)
    finally:
        asyncio.run(drop_queue(scratch.queue_name))
        asyncio.run(_drop_kept_answers(scratch.database_url))
        drop_database(scratch.database_name)
    print(f"API latency, 2,000-pupil secondaries, one uvicorn process, {args.requests} sequential requests per route:")
    print()
    print("| route | requests | p50 | p95 | p99 | max | reply size |")
    print("|---|---|---|---|---|---|---|")
    for label, times, size in figures.rows:
        print(
            f"| {label} | {len(times)} | {percentile(times, 0.5):.1f} ms | {percentile(times, 0.95):.1f} ms |"
            f" {percentile(times, 0.99):.1f} ms | {max(times):.1f} ms | {size / 1024:.0f} KiB |"
        )
    print()
    for note in figures.notes:
        print(note)


if __name__ == "__main__":
    main()
