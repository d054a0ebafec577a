"""Proof: PostgreSQL restarted during a run, and Redis restarted during a run (losing its queue),
leave nothing partial or duplicated and nothing stuck; the recovery pass re-queues what Redis lost.

The shared PostgreSQL and Redis on 5432/6379 are never touched: each module starts a throwaway
PostgreSQL cluster (initdb into a temporary directory, as the ``postgres`` OS user when run as root)
and a redis-server that keeps nothing on disk, each on a free port, migrates the database, and
restarts those mid-run. Real worker processes run the real jobs against them.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.time import utc_now
from app.sync.runs.recovery import recover
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.checks import (
    active_runs,
    assert_copycat,
    assert_merged,
    assert_no_duplicates,
    by_mis_ids,
    run_of,
)
from tests.fixtures.database import Sessionmaker, alembic_config
from tests.fixtures.report import record
from tests.fixtures.schools import merge, mis_events, queue_merge, queue_sync, school_ready_to_merge
from tests.fixtures.worker import WorkerEnv, wait_until_picked_up

pytestmark = pytest.mark.proof

PG_BIN = Path(os.environ.get("BANDSYNC_PROOF_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server")
SEEDS = [int(s) for s in os.environ.get("BANDSYNC_PROOF_RESTART_SEEDS", "1,2").split(",")]
PUPILS = 120
JOB_TIMEOUT = 120.0
LATER = timedelta(minutes=10)  # the recovery cron's next pass, once the lost work is stale


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivatePostgres:
    """A throwaway cluster on a free port; ``restart`` is ``pg_ctl restart -m fast`` (every session is
    terminated, every open transaction rolled back)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bandsync-proof-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.base / "log", "-w", "-o", options, "start")

    def _run(self, *args: object) -> None:
        done = subprocess.run(  # noqa: S603 (fixed binaries, our arguments)
            [*self.as_postgres, *map(str, args)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        # With its log going to a file: a postmaster holding our stdout pipe would make us wait for ever.
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.base / "log", "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


class PrivateRedis:
    """A redis-server keeping nothing on disk; ``restart`` kills it and starts it again, empty."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        assert REDIS_SERVER
        process = subprocess.Popen(  # noqa: S603
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return process
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def restart(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.process = self._start()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@dataclass
class Services:
    postgres: PrivatePostgres
    redis: PrivateRedis
    database_url: str


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN} (set BANDSYNC_PROOF_PG_BIN)")
    if REDIS_SERVER is None:
        pytest.skip("no redis-server binary on PATH")
    postgres = PrivatePostgres()
    redis = PrivateRedis()
    try:

        async def create() -> None:
            connection = await asyncpg.connect(host="127.0.0.1", port=postgres.port, user="postgres")
            try:
                await connection.execute('CREATE DATABASE "bandsync"')
            finally:
                await connection.close()

        asyncio.run(create())
        url = postgres.url("bandsync")
        command.upgrade(alembic_config(url), "head")
        yield Services(postgres, redis, url)
    finally:
        redis.stop()
        postgres.stop()


@pytest.fixture
async def db(services: Services) -> AsyncIterator[Sessionmaker]:
    engine: AsyncEngine = create_async_engine(services.database_url, poolclass=NullPool)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def redis(services: Services) -> AsyncIterator[ArqRedis]:
    client = ArqRedis.from_url(services.redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def env(services: Services, sandbox: SandboxServer, tmp_path: Path) -> Iterator[WorkerEnv]:
    workers = WorkerEnv(services.database_url, services.redis.url, "bandsync:proof", sandbox.base_url, tmp_path)
    yield workers
    workers.stop_all()


async def _until_job_ended(queue: JobQueue, job_id: str, within: float = 120) -> str:
    """Until the job is no longer waiting or running; its final state (complete or not_found)."""
    deadline = time.monotonic() + within
    while (state := await queue.state(job_id)) in ("queued", "deferred", "in_progress"):
        assert time.monotonic() < deadline, f"job {job_id} still {state}"
        await asyncio.sleep(0.1)
    return state


async def _drain(env: WorkerEnv) -> None:
    worker = env.start(job_timeout=JOB_TIMEOUT, burst=True, name="drain")
    assert await worker.finished(within=240) == 0, worker.tail()


@pytest.mark.parametrize("seed", SEEDS)
async def test_postgres_restarted_during_a_merge(
    seed: int,
    services: Services,
    db: Sessionmaker,
    redis: ArqRedis,
    env: WorkerEnv,
    sandbox: SandboxServer,
    wonde: WondeClient,
    settings: Settings,
) -> None:
    rng = random.Random(seed)
    box = SecretBox(settings.encryption_key)
    queue = JobQueue(redis, env.queue_name)
    school_id = f"pg-m-{uuid.uuid4().hex[:8]}"
    await school_ready_to_merge(db, sandbox, wonde, box, school_id, pupils=PUPILS, seed=seed)
    before = await by_mis_ids(db, school_id)
    run_id = await queue_merge(db, queue, school_id)
    worker = env.start(job_timeout=JOB_TIMEOUT, name="pg-merge")
    await wait_until_picked_up(redis, f"merge:{run_id}", worker)
    await asyncio.sleep(rng.uniform(0.2, 3.0))
    services.postgres.restart()
    await _until_job_ended(queue, f"merge:{run_id}")
    worker.kill()
    run = await run_of(db, run_id)
    after = await by_mis_ids(db, school_id)
    if run.status == "succeeded":
        outcome = "finished before the restart"
        await assert_merged(db, school_id)
    else:
        assert after == before, "a merge cut by the restart applied part of itself"
        if run.status == "failed":
            outcome = "failed cleanly"
            assert run.error
            await queue_merge(db, queue, school_id)  # the admin presses Merge again
        else:
            # The job ended while the database was down, before it could record anything: the run is
            # still queued and only the recovery pass can get it going again.
            outcome = "left queued, recovered"
            assert run.status == "queued"
            assert (await recover(db, queue, utc_now() + LATER, schools=[school_id]))["requeued"] == 1
        await _drain(env)
    await assert_merged(db, school_id)
    duplicated = await assert_no_duplicates(db, school_id)
    assert not await active_runs(db, school_id)
    record("restarts: PostgreSQL restarted during a merge", lost_or_duplicated=duplicated)
    print(f"seed {seed}: the merge {outcome}")


@pytest.mark.parametrize("seed", SEEDS)
async def test_postgres_restarted_during_a_sync(
    seed: int,
    services: Services,
    db: Sessionmaker,
    redis: ArqRedis,
    env: WorkerEnv,
    sandbox: SandboxServer,
    wonde: WondeClient,
    settings: Settings,
) -> None:
    rng = random.Random(100 + seed)
    box = SecretBox(settings.encryption_key)
    queue = JobQueue(redis, env.queue_name)
    school_id = f"pg-s-{uuid.uuid4().hex[:8]}"
    wonde_school = await school_ready_to_merge(db, sandbox, wonde, box, school_id, pupils=PUPILS * 2, seed=seed)
    await merge(db, box, school_id)
    await mis_events(sandbox, wonde_school, [{"kind": "joiner"}, {"kind": "leaver"}, {"kind": "rename"}])
    before = await by_mis_ids(db, school_id)
    async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
        rule = {"kind": "slow", "school_id": wonde_school, "times": -1, "seconds": 0.3}
        assert (await admin.post("/faults", json=rule)).status_code == 200
    try:
        run_id = await queue_sync(db, queue, school_id)
        worker = env.start(job_timeout=JOB_TIMEOUT, name="pg-sync")
        await wait_until_picked_up(redis, f"sync:{run_id}", worker)
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        services.postgres.restart()
        await _until_job_ended(queue, f"sync:{run_id}")
        worker.kill()
    finally:
        async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
            await admin.delete("/faults")
    run = await run_of(db, run_id)
    if run.status != "succeeded":
        assert await by_mis_ids(db, school_id) == before, "a sync cut by the restart applied part of itself"
        if run.status == "failed":
            assert run.error
            await queue_sync(db, queue, school_id)  # the next sync
        else:
            assert run.status in ("queued", "running")
            assert (await recover(db, queue, utc_now() + LATER, schools=[school_id]))["requeued"] == 1
        await _drain(env)
    await assert_copycat(db, sandbox, school_id, wonde_school)
    duplicated = await assert_no_duplicates(db, school_id)
    assert not await active_runs(db, school_id)
    record("restarts: PostgreSQL restarted during a sync", lost_or_duplicated=duplicated)


@pytest.mark.parametrize("seed", SEEDS)
async def test_redis_restarted_during_a_run_loses_the_queue_and_recovery_sends_it_again(
    seed: int,
    services: Services,
    db: Sessionmaker,
    redis: ArqRedis,
    env: WorkerEnv,
    sandbox: SandboxServer,
    wonde: WondeClient,
    settings: Settings,
) -> None:
    rng = random.Random(200 + seed)
    box = SecretBox(settings.encryption_key)
    queue = JobQueue(redis, env.queue_name)
    merging = f"rd-m-{uuid.uuid4().hex[:8]}"
    syncing = f"rd-s-{uuid.uuid4().hex[:8]}"
    await school_ready_to_merge(db, sandbox, wonde, box, merging, pupils=PUPILS, seed=seed + 40)
    wonde_school = await school_ready_to_merge(db, sandbox, wonde, box, syncing, pupils=PUPILS, seed=seed + 50)
    await merge(db, box, syncing)
    await mis_events(sandbox, wonde_school, [{"kind": "joiner"}, {"kind": "rename"}])
    before = {school: await by_mis_ids(db, school) for school in (merging, syncing)}
    merge_id = await queue_merge(db, queue, merging)
    sync_id = await queue_sync(db, queue, syncing)  # waits behind the merge: the worker takes one job at a time
    worker = env.start(job_timeout=JOB_TIMEOUT, max_jobs=1, name="redis")
    await wait_until_picked_up(redis, f"merge:{merge_id}", worker)
    await asyncio.sleep(rng.uniform(0.2, 3.0))
    services.redis.restart()
    await redis.connection_pool.disconnect()  # our own client's connections died with the server
    assert await queue.state(f"sync:{sync_id}") == "not_found"  # the queue went with it
    await asyncio.sleep(2)  # whatever the worker does now (it usually stops on the lost connection) …
    worker.kill()  # … it is replaced, as a deploy or a supervisor would
    merging_run = await run_of(db, merge_id)
    if merging_run.status == "succeeded":
        await assert_merged(db, merging)
    else:
        assert merging_run.status == "queued"
        assert await by_mis_ids(db, merging) == before[merging]
    syncing_run = await run_of(db, sync_id)
    if syncing_run.status == "succeeded":  # a quick merge, and the worker had the sync done before the restart
        await assert_copycat(db, sandbox, syncing, wonde_school)
    else:
        assert syncing_run.status == "queued"
        assert await by_mis_ids(db, syncing) == before[syncing]

    done = await recover(db, queue, utc_now() + LATER, schools=[merging, syncing])
    assert done["requeued"] == sum(run.status != "succeeded" for run in (merging_run, syncing_run))
    await _drain(env)
    assert (await run_of(db, merge_id)).status == "succeeded"
    assert (await run_of(db, sync_id)).status == "succeeded"
    await assert_merged(db, merging)
    await assert_copycat(db, sandbox, syncing, wonde_school)
    duplicated = await assert_no_duplicates(db, merging) + await assert_no_duplicates(db, syncing)
    assert not await active_runs(db, merging)
    assert not await active_runs(db, syncing)
    record("restarts: Redis restarted during a run (queue lost)", lost_or_duplicated=duplicated)
