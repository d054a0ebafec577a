"""Benchmark: a night of syncs for a batch of schools, drained by real arq worker processes.

``--schools`` schools of mixed sizes (five in six primaries of 200-400 pupils, one in six secondaries of
1,000-2,000) are generated in a Wonde sandbox running as its own process, and onboarded in a scratch
database as ``bench.reconcile`` does (read, roster, forms matched, classes imported, merge, first
reconcile); that setup is parallelised over two processes and not measured. Then, twice (one worker,
then two):

1. a few MIS events per school are applied in the sandbox (joiners, a leaver, renames; class moves in
   secondaries);
2. the workers (``workers.settings.WorkerSettings`` plus a per-job SQL statement counter, see
   ``bench.nightly_worker``) are started and idle;
3. the night is queued as production does (``queue_nightly_syncs`` at 04:59 local time, when every
   school's slot has come), and the time runs until the last sync has finished.

Prints per round: schools per minute (and per worker), run time p50/p95, SQL statements and Wonde
requests per run, CPU seconds per school (workers, PostgreSQL backends, sandbox), peak database
connections, Redis memory per queued job, and how the journal and runs tables grew.

    .venv/bin/python -m bench.nightly               # 200 schools
    .venv/bin/python -m bench.nightly --schools 20  # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing import get_context
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.db import create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import SyncRun
from app.models.sync_run import RunStatus
from app.sync.reconcile.flow import reconcile
from app.sync.reconcile.schedule import queue_nightly_syncs
from app.wonde.sandbox.generate import Phase
from bench.nightly_worker import counts_key
from bench.serving import (
    BIN,
    REDIS_URL,
    Process,
    SandboxProcess,
    Scratch,
    cpu_seconds,
    drop_queue,
    new_tag,
    percentile,
    sandbox_process,
)
from tests.fixtures.database import create_migrated_database, drop_database
from tests.fixtures.schools import WondeLink, syncing_school

SECONDARY_EVERY = 6
EVENTS: dict[str, list[dict[str, Any]]] = {
    "primary": [{"kind": "joiner"}, {"kind": "leaver"}, {"kind": "rename"}, {"kind": "rename"}],
    "secondary": [{"kind": "joiner"}] * 2 + [{"kind": "leaver"}] + [{"kind": "rename"}] * 4 + [{"kind": "move"}] * 3,
}
MIRROR_TABLES = ("mis_students", "mis_classes", "mis_groups", "mis_memberships")
APP_TABLES = ("pupils", "bands", "band_memberships")
DRAIN_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class Planned:
    index: int
    phase: Phase
    pupils: int
    seed: int


@dataclass(frozen=True)
class Onboarded:
    school_id: str
    phase: Phase
    pupils: int
    wonde_school_id: str


def plan_schools(count: int) -> list[Planned]:
    """A fixed mix: every sixth school a secondary of 1,000-2,000 pupils, the others primaries of 200-400."""
    planned = []
    for index in range(count):
        if index % SECONDARY_EVERY == SECONDARY_EVERY - 1:
            planned.append(Planned(index, "secondary", 1000 + (index * 397) % 1001, 7000 + index))
        else:
            planned.append(Planned(index, "primary", 200 + (index * 53) % 201, 7000 + index))
    return planned


# --- setup (not measured) -------------------------------------------------------------------------


async def _onboard(database_url: str, sandbox_admin: str, domain: str, schools: list[Planned]) -> list[Onboarded]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    sessionmaker = create_sessionmaker(engine)
    box = SecretBox(Settings().encryption_key)
    done = []
    async with httpx.AsyncClient(base_url=sandbox_admin, timeout=300) as admin:
        for planned in schools:
            generated = await admin.post(
                "/schools/generate", json={"phase": planned.phase, "pupils": planned.pupils, "seed": planned.seed}
            )
            generated.raise_for_status()
            wonde = WondeLink(generated.json()["school_id"], domain, generated.json()["token"])
            try:
                school_id = await syncing_school(
                    sessionmaker, box, phase=planned.phase, pupils=planned.pupils, seed=planned.seed, wonde=wonde
                )
                await _first_reconcile(sessionmaker, box, school_id)
            except Exception as exc:  # one school's setup failing should not cost the whole batch
                # The class name only: a message could quote a pupil's name or username.
                print(f"could not onboard {planned} ({type(exc).__name__}); left out", flush=True)
                continue
            done.append(Onboarded(school_id, planned.phase, planned.pupils, wonde.school_id))
    await engine.dispose()
    return done


async def _first_reconcile(sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, school_id: str) -> None:
    """The reconcile right after a merge renames the bands after their MIS classes: onboarding, not a night."""
    async with unit_of_work(sessionmaker, None) as session:
        run = SyncRun(school_id=school_id, kind="reconcile", trigger="manual", status="running", started_at=utc_now())
        session.add(run)
    async with unit_of_work(sessionmaker, None) as session:
        current = await session.get(SyncRun, run.id)
        assert current is not None
        current.counts = await reconcile(session, current, box)
        current.status, current.finished_at = RunStatus.SUCCEEDED, utc_now()


def _onboard_chunk(database_url: str, sandbox_admin: str, domain: str, schools: list[Planned]) -> list[Onboarded]:
    return asyncio.run(_onboard(database_url, sandbox_admin, domain, schools))


def onboard(database_url: str, sandbox: SandboxProcess, planned: list[Planned], processes: int) -> list[Onboarded]:
    chunks = [planned[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(_onboard_chunk, database_url, sandbox.admin_url, sandbox.domain, chunk)
            for chunk in chunks
            if chunk
        ]
        return [school for future in futures for school in future.result()]


async def apply_events(sandbox: SandboxProcess, schools: list[Onboarded]) -> Counter[str]:
    """This night's MIS changes, applied in the sandbox; returns how many were applied or refused."""
    outcome: Counter[str] = Counter()
    gate = asyncio.Semaphore(8)

    async def one(admin: httpx.AsyncClient, school: Onboarded, item: dict[str, Any]) -> None:
        async with gate:
            response = await admin.post(f"/schools/{school.wonde_school_id}/events", json=item)
        if response.status_code == 422:  # e.g. no pupil with a class to move to
            outcome["refused"] += 1
        else:
            response.raise_for_status()
            outcome["applied"] += 1

    async with httpx.AsyncClient(base_url=sandbox.admin_url, timeout=120) as admin:
        await asyncio.gather(*(one(admin, s, item) for s in schools for item in EVENTS[s.phase]))
    return outcome


# --- one night, measured --------------------------------------------------------------------------


@dataclass
class Night:
    workers: int
    events: Counter[str]
    queue_seconds: float = 0.0
    wall_seconds: float = 0.0
    runs: list[dict[str, Any]] = field(default_factory=list)
    statements: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    peak_connections: int = 0
    redis_bytes_per_job: float = 0.0
    redis_result_bytes: float = 0.0
    growth: dict[str, float] = field(default_factory=dict)


def _plain(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _backends(monitor: asyncpg.Connection, database: str) -> list[int]:
    rows = await monitor.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
    )
    return [row["pid"] for row in rows]


async def _sizes(monitor: asyncpg.Connection) -> dict[str, float]:
    sizes = {
        table: float(await monitor.fetchval("SELECT pg_total_relation_size($1::regclass)", table))
        for table in ("changes", "sync_runs", *MIRROR_TABLES, *APP_TABLES)
    }
    sizes["changes rows"] = float(await monitor.fetchval("SELECT count(*) FROM changes"))
    sizes["sync_runs rows"] = float(await monitor.fetchval("SELECT count(*) FROM sync_runs"))
    sizes["database"] = float(await monitor.fetchval("SELECT pg_database_size(current_database())"))
    return sizes


def _start_workers(scratch: Scratch, sandbox: SandboxProcess, count: int) -> list[Process]:
    env = scratch.env(BANDSYNC_WONDE__BASE_URL=sandbox.base_url)
    return [Process([str(BIN / "arq"), "bench.nightly_worker.MeasuredWorkerSettings"], env) for _ in range(count)]


async def _wait_ready(redis: ArqRedis, scratch: Scratch, workers: list[Process]) -> None:
    deadline = time.monotonic() + 60
    while not await redis.exists(f"{scratch.queue_name}:health-check"):
        for worker in workers:
            if not worker.alive():
                raise worker.fail("an arq worker exited")
        if time.monotonic() > deadline:
            raise workers[0].fail("the arq workers did not start")
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # the others start alongside; give them the same head start


async def night(
    scratch: Scratch, sandbox: SandboxProcess, schools: list[Onboarded], workers: int, day: int
) -> tuple[Night, dict[str, float]]:
    figures = Night(workers, await apply_events(sandbox, schools))
    engine = create_async_engine(scratch.database_url, poolclass=NullPool)
    sessionmaker = create_sessionmaker(engine)
    redis = ArqRedis.from_url(REDIS_URL)
    monitor = await asyncpg.connect(_plain(scratch.database_url))
    await redis.delete(f"{scratch.queue_name}:health-check")
    processes = _start_workers(scratch, sandbox, workers)
    try:
        await _wait_ready(redis, scratch, processes)
        before = await _sizes(monitor)
        since = await monitor.fetchval("SELECT clock_timestamp()")
        backend_cpu = {pid: cpu_seconds(pid) for pid in await _backends(monitor, scratch.database_name)}
        backend_peak: dict[int, float] = dict(backend_cpu)
        worker_cpu = [p.cpu_seconds() for p in processes]
        sandbox_cpu = sandbox.process.cpu_seconds()
        # Every school's slot lies between 02:00 and 05:00 local time: at 04:59 all of them are due.
        local = datetime.combine(utc_now().date() + timedelta(days=day), datetime.min.time())
        now = (local + timedelta(hours=4, minutes=59)).replace(tzinfo=ZoneInfo("Europe/London"))
        started = time.perf_counter()
        async with unit_of_work(sessionmaker, JobQueue(redis, scratch.queue_name)) as session:
            queued = await queue_nightly_syncs(session, now)
        figures.queue_seconds = time.perf_counter() - started
        assert len(queued) == len(schools), f"{len(queued)} of {len(schools)} schools queued"
        queued_ids = await monitor.fetch(
            "SELECT id FROM sync_runs WHERE kind = 'reconcile' AND created_at >= $1 LIMIT 20", since
        )
        sizes = [await redis.memory_usage(f"arq:job:sync:{row['id']}") or 0 for row in queued_ids]
        figures.redis_bytes_per_job = statistics.mean(sizes) if sizes else 0.0
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while True:
            waiting = await monitor.fetchval(
                "SELECT count(*) FROM sync_runs WHERE kind = 'reconcile' AND trigger = 'schedule'"
                " AND status IN ('queued', 'running')"
            )
            pids = await _backends(monitor, scratch.database_name)
            figures.peak_connections = max(figures.peak_connections, len(pids))
            for pid in pids:
                backend_peak[pid] = max(backend_peak.get(pid, 0.0), cpu_seconds(pid))
            if waiting == 0:
                break
            for worker in processes:
                if not worker.alive():
                    raise worker.fail("an arq worker died mid-night")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{waiting} syncs still waiting after {DRAIN_TIMEOUT_SECONDS:.0f} s")
            await asyncio.sleep(0.2)
        figures.wall_seconds = time.perf_counter() - started
        figures.cpu = {
            "workers": sum(p.cpu_seconds() for p in processes) - sum(worker_cpu),
            "postgres": sum(backend_peak.values()) - sum(backend_cpu.values()),
            "sandbox": sandbox.process.cpu_seconds() - sandbox_cpu,
        }
        figures.runs = [
            dict(row)
            for row in await monitor.fetch(
                "SELECT id, school_id, kind, status, error, counts, created_at, started_at, finished_at,"
                " requests_made FROM sync_runs WHERE trigger = 'schedule' AND created_at >= $1",
                since,
            )
        ]
        counted = await redis.hgetall(counts_key(scratch.queue_name))
        figures.statements = {k.decode(): int(v) for k, v in counted.items()}
        results = [f"arq:result:sync:{r['id']}" for r in figures.runs if r["kind"] == "reconcile"]
        result_sizes = [await redis.memory_usage(k) or 0 for k in results[:20]]
        figures.redis_result_bytes = statistics.mean(result_sizes) if result_sizes else 0.0
        after = await _sizes(monitor)
    finally:
        for process in processes:
            process.stop()
        await monitor.close()
        await redis.aclose()
        await engine.dispose()
    return figures, {key: after[key] - before[key] for key in after} | {f"total {k}": v for k, v in after.items()}


# --- report ---------------------------------------------------------------------------------------


def _seconds(run: dict[str, Any]) -> float:
    return float((run["finished_at"] - run["started_at"]).total_seconds())


def report(schools: list[Onboarded], nights: list[tuple[Night, dict[str, float]]], setup_seconds: float) -> None:
    phases = Counter(s.phase for s in schools)
    pupils = sum(s.pupils for s in schools)
    phase_of = {s.school_id: s.phase for s in schools}
    print(
        f"nightly sync: {len(schools)} schools ({phases['primary']} primaries of 200-400 pupils, "
        f"{phases['secondary']} secondaries of 1,000-2,000; {pupils:,} pupils); onboarding took {setup_seconds:.0f} s"
        " (not measured below)"
    )
    print()
    print(
        "| workers | schools | wall time | schools/min | schools/min/worker | run p50 | run p95 | p50 primary |"
        " p95 secondary | queue wait p95 | SQL/run median (max) | Wonde requests/run median (max) | failed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for figures, _ in nights:
        syncs = [r for r in figures.runs if r["kind"] == "reconcile"]
        reads = {r["school_id"]: r["requests_made"] for r in figures.runs if r["kind"] == "full_read"}
        done = [r for r in syncs if r["status"] == "succeeded"]
        times = [_seconds(r) for r in done]
        primary = [_seconds(r) for r in done if phase_of[r["school_id"]] == "primary"]
        secondary = [_seconds(r) for r in done if phase_of[r["school_id"]] == "secondary"]
        waits = [float((r["started_at"] - r["created_at"]).total_seconds()) for r in done]
        sql = [figures.statements.get(f"sync:{r['id']}", 0) for r in syncs]
        http = [reads.get(r["school_id"], 0) for r in syncs]
        per_minute = len(done) / (figures.wall_seconds / 60)
        print(
            f"| {figures.workers} | {len(syncs)} | {figures.wall_seconds:.1f} s | {per_minute:.0f} |"
            f" {per_minute / figures.workers:.0f} | {percentile(times, 0.5):.2f} s | {percentile(times, 0.95):.2f} s |"
            f" {percentile(primary, 0.5):.2f} s | {percentile(secondary, 0.95):.2f} s |"
            f" {percentile(waits, 0.95):.0f} s | {statistics.median(sql):.0f} ({max(sql)}) |"
            f" {statistics.median(http):.0f} ({max(http)}) | {len(syncs) - len(done)} |"
        )
    print()
    print(
        "| workers | MIS events applied (refused) | queueing the night | CPU s/school: workers | PostgreSQL backends |"
        " sandbox | peak DB connections | Redis bytes/queued job | Redis bytes/kept result |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for figures, _ in nights:
        n = len([r for r in figures.runs if r["kind"] == "reconcile"])
        print(
            f"| {figures.workers} | {figures.events['applied']} ({figures.events['refused']}) |"
            f" {figures.queue_seconds:.2f} s | {figures.cpu['workers'] / n:.3f} | {figures.cpu['postgres'] / n:.3f} |"
            f" {figures.cpu['sandbox'] / n:.3f} | {figures.peak_connections} | {figures.redis_bytes_per_job:.0f} |"
            f" {figures.redis_result_bytes:.0f} |"
        )
    print()
    print(
        "| workers | changes journalled | journal growth | sync_runs growth | mirror tables growth | database growth |"
    )
    print("|---|---|---|---|---|---|")
    for figures, growth in nights:
        mirror = sum(growth[t] for t in MIRROR_TABLES)
        print(
            f"| {figures.workers} | {int(growth['changes rows'])} rows | {growth['changes'] / 1024:.0f} KiB |"
            f" {int(growth['sync_runs rows'])} rows, {growth['sync_runs'] / 1024:.0f} KiB |"
            f" {mirror / 1024:.0f} KiB | {growth['database'] / 1024 / 1024:.1f} MiB |"
        )
    for figures, _ in nights:
        changes = Counter[str]()
        for run in figures.runs:
            if run["kind"] == "reconcile" and run["counts"]:
                changes.update({k: int(v) for k, v in json.loads(run["counts"]).items()})
        print(f"changes, {figures.workers} worker night: " + ", ".join(f"{k} {v}" for k, v in sorted(changes.items())))
    last = nights[-1][1]
    mirror_total = sum(last[f"total {t}"] for t in MIRROR_TABLES)
    app_total = sum(last[f"total {t}"] for t in APP_TABLES)
    print()
    print(
        f"after the last night: database {last['total database'] / 2**20:.0f} MiB;"
        f" MIS mirror {mirror_total / 2**20:.1f} MiB"
        f" ({mirror_total / pupils:.0f} bytes/pupil); pupils, bands, memberships {app_total / 2**20:.1f} MiB"
        f" ({app_total / pupils:.0f} bytes/pupil); journal {last['total changes'] / 2**20:.1f} MiB"
        f" ({int(last['total changes rows'])} rows, onboarding included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--setup-processes", type=int, default=2, help="processes onboarding the schools")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="one night per worker count")
    args = parser.parse_args()
    tag = new_tag()
    scratch = Scratch(tag, create_migrated_database(f"bandsync_bench_{tag}"))
    try:
        with sandbox_process() as sandbox:
            started = time.perf_counter()
            schools = onboard(scratch.database_url, sandbox, plan_schools(args.schools), args.setup_processes)
            setup_seconds = time.perf_counter() - started
            nights = [
                asyncio.run(night(scratch, sandbox, schools, workers, day))
                for day, workers in enumerate(args.workers, start=1)
            ]
        report(schools, nights, setup_seconds)
    finally:
        asyncio.run(_cleanup(scratch))
        drop_database(scratch.database_name)


async def _cleanup(scratch: Scratch) -> None:
    """The queue, the statement counts, and every job key of this run's syncs (arq keeps results an hour)."""
    keys: list[str] = []
    try:
        connection = await asyncpg.connect(_plain(scratch.database_url))
        try:
            ids = [
                str(row["id"]) for row in await connection.fetch("SELECT id FROM sync_runs WHERE kind = 'reconcile'")
            ]
        finally:
            await connection.close()
        keys = [f"arq:{prefix}:sync:{i}" for i in ids for prefix in ("job", "result", "in-progress", "retry")]
    except (OSError, asyncpg.PostgresError):
        pass  # the database never came up: nothing was queued
    await drop_queue(scratch.queue_name, counts_key(scratch.queue_name), *keys)


if __name__ == "__main__":
    main()
