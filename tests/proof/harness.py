"""What the worker-death and restart proofs share: real worker processes, schools ready to merge or
sync, snapshots of a school's app state, and the checks that nothing is partial or duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from arq.connections import ArqRedis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.unit_of_work import unit_of_work
from app.models import (
    Band,
    BandMembership,
    ChangeRow,
    MisClass,
    MisMembership,
    MisStudent,
    Pupil,
    School,
    SyncRun,
    UploaderDecision,
)
from app.sync.mirror.flow import run_read
from app.sync.onboarding.flow import run_merge
from app.sync.onboarding.service import start_merge
from app.sync.reconcile.service import start_sync
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
Sessionmaker = async_sessionmaker[AsyncSession]


@dataclass
class WorkerEnv:
    """Where a worker process finds its database, Redis, queue and Wonde (the sandbox)."""

    database_url: str
    redis_url: str
    queue_name: str
    wonde_base_url: str
    log_dir: Path
    started: list[Worker] = field(default_factory=list)

    def stop_all(self) -> None:
        """Kill every worker this environment started that is still alive (a failed test's)."""
        for worker in self.started:
            worker.kill()

    def start(self, *, job_timeout: float, burst: bool = False, max_jobs: int = 4, name: str = "w") -> Worker:
        env = {
            **os.environ,
            "BANDSYNC_DATABASE_URL": self.database_url,
            "BANDSYNC_REDIS_URL": self.redis_url,
            "BANDSYNC_QUEUE_NAME": self.queue_name,
            "BANDSYNC_WONDE__BASE_URL": self.wonde_base_url,
            "BANDSYNC_WONDE__RETRY_BASE_DELAY_SECONDS": "0.05",
            "BANDSYNC_LOG_LEVEL": "WARNING",
            "PROOF_JOB_TIMEOUT": str(job_timeout),
            "PROOF_MAX_JOBS": str(max_jobs),
            "PROOF_BURST": "1" if burst else "0",
        }
        log = self.log_dir / f"worker-{name}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.proof.worker_process"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log)
        self.started.append(worker)
        return worker


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no cleanup, the open transaction simply vanishes."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    async def finished(self, within: float) -> int:
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the worker did not finish in {within}s; log:\n{self.tail()}")
            await asyncio.sleep(0.1)
        return self.process.returncode

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def wait_until_picked_up(redis: ArqRedis, job_id: str, worker: Worker, within: float = 30) -> None:
    """Until a worker has taken the job (arq's in-progress key exists)."""
    deadline = time.monotonic() + within
    while not await redis.exists(f"arq:in-progress:{job_id}"):
        if worker.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} was never picked up; worker log:\n{worker.tail()}")
        await asyncio.sleep(0.02)


async def expire_in_progress(redis: ArqRedis, job_id: str, *, wait: bool) -> None:
    """A killed worker's job is retried once arq's in-progress key expires (job timeout + 10 s).
    ``wait`` waits it out for real; otherwise the remaining time is skipped (PEXPIRE to 1 ms), which
    is the same thing sooner."""
    key = f"arq:in-progress:{job_id}"
    if not wait:
        await redis.pexpire(key, 1)
    while await redis.exists(key):  # noqa: ASYNC110 (polling Redis, not an in-process event)
        await asyncio.sleep(0.1)


async def generate(sandbox: SandboxServer, pupils: int, seed: int) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
        made = (
            await admin.post("/schools/generate", json={"phase": "secondary", "pupils": pupils, "seed": seed})
        ).json()
    return made["school_id"], made["token"]


async def mis_events(sandbox: SandboxServer, wonde_school: str, events: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
        for event in events:
            response = await admin.post(f"/schools/{wonde_school}/events", json=event)
            assert response.status_code == 200, response.text


async def school_ready_to_merge(
    sessionmaker: Sessionmaker,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    school_id: str,
    *,
    pupils: int,
    seed: int,
) -> str:
    """A connected school, read from the sandbox, with every MIS class set to "import"."""
    wonde_school, token = await generate(sandbox, pupils, seed)
    async with sessionmaker() as session:
        session.add(
            School(
                id=school_id,
                name=f"Proof School {seed}",
                state="approved",
                wonde_school_id=wonde_school,
                wonde_domain=sandbox.domain,
                wonde_token_encrypted=box.encrypt(token),
            )
        )
        read = SyncRun(school_id=school_id, kind="full_read", trigger="manual", status="queued", actor="proof")
        session.add(read)
        await session.commit()
    assert await run_read(sessionmaker, wonde, box, read.id) == "succeeded"
    async with sessionmaker() as session:
        for mis_class in await session.scalars(select(MisClass).where(MisClass.school_id == school_id)):
            session.add(UploaderDecision(school_id=school_id, mis_class_id=mis_class.id, action="import"))
        await session.commit()
    return wonde_school


async def onboard(sessionmaker: Sessionmaker, box: SecretBox, school_id: str) -> None:
    """Merge in-process (no worker): the school starts syncing."""
    async with sessionmaker() as session:
        run = SyncRun(school_id=school_id, kind="merge", trigger="manual", status="queued", actor="proof")
        session.add(run)
        await session.commit()
    assert await run_merge(sessionmaker, box, run.id) == "succeeded"


async def queue_merge(sessionmaker: Sessionmaker, queue: JobQueue, school_id: str) -> uuid.UUID:
    """The admin presses Merge: a queued run and its job ``merge:<run id>``, sent after commit."""
    async with unit_of_work(sessionmaker, queue) as session:
        run = await start_merge(session, school_id, "proof-admin")
    return run.id


async def queue_sync(sessionmaker: Sessionmaker, queue: JobQueue, school_id: str) -> uuid.UUID:
    """ "Sync now": a queued reconcile run and its job ``sync:<run id>``."""
    async with unit_of_work(sessionmaker, queue) as session:
        run = await start_sync(session, school_id, trigger="manual", actor="proof-admin")
    return run.id


async def snapshot(sessionmaker: Sessionmaker, school_id: str) -> dict[str, Any]:
    """The school's app state, keyed by the MIS ids where there are links (pupil ids and usernames
    are made afresh by each merge), with the journal's applied changes."""
    async with sessionmaker() as session:
        students: dict[uuid.UUID, str] = dict(
            (
                await session.execute(
                    select(MisStudent.id, MisStudent.wonde_id).where(MisStudent.school_id == school_id)
                )
            ).all()
        )
        classes: dict[uuid.UUID, str] = dict(
            (await session.execute(select(MisClass.id, MisClass.wonde_id).where(MisClass.school_id == school_id))).all()
        )
        pupils = list(await session.scalars(select(Pupil).where(Pupil.school_id == school_id)))
        bands = list(await session.scalars(select(Band).where(Band.school_id == school_id)))
        members = (
            await session.execute(
                select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
            )
        ).all()
        journal = (
            await session.execute(
                select(ChangeRow.action, func.count())
                .where(ChangeRow.school_id == school_id, ChangeRow.status.in_(("applied", "held")))
                .group_by(ChangeRow.action)
            )
        ).all()
    pupil_key = {
        p.id: students.get(p.mis_student_id) if p.mis_student_id else f"app:{p.first_name} {p.last_name}"
        for p in pupils
    }
    band_key = {b.id: classes.get(b.mis_class_id) if b.mis_class_id else f"app:{b.name}" for b in bands}
    return {
        "pupils": sorted(
            (str(pupil_key[p.id]), p.first_name, p.last_name, p.year_group, p.archived_at is not None) for p in pupils
        ),
        "bands": sorted((str(band_key[b.id]), b.name, b.archived_at is not None) for b in bands),
        "members": sorted((str(band_key[b]), str(pupil_key[p])) for b, p in members),
        "journal": dict(sorted((a, int(n)) for a, n in journal)),
    }


async def assert_no_duplicates(sessionmaker: Sessionmaker, school_id: str) -> int:
    """No MIS student linked twice, no class followed by two bands, no change journalled twice.
    Returns the number of duplicates found (0), for the proof's tally, after asserting it."""
    async with sessionmaker() as session:
        links = Counter(
            await session.scalars(
                select(Pupil.mis_student_id).where(Pupil.school_id == school_id, Pupil.mis_student_id.is_not(None))
            )
        )
        followed = Counter(
            await session.scalars(
                select(Band.mis_class_id).where(Band.school_id == school_id, Band.mis_class_id.is_not(None))
            )
        )
        usernames = Counter(await session.scalars(select(Pupil.username).where(Pupil.school_id == school_id)))
        entries = Counter(
            (
                await session.execute(
                    select(ChangeRow.run_id, ChangeRow.entity_type, ChangeRow.entity_id, ChangeRow.action).where(
                        ChangeRow.school_id == school_id
                    )
                )
            ).all()
        )
    duplicates: list[tuple[str, object]] = [("link", k) for k, n in links.items() if n > 1]
    duplicates += [("band", k) for k, n in followed.items() if n > 1]
    duplicates += [("username", k) for k, n in usernames.items() if n > 1]
    # One change journalled twice in one run would mean the run applied twice.
    duplicates += [("journal", k) for k, n in entries.items() if n > 1]
    assert not duplicates, duplicates[:5]
    return len(duplicates)


async def assert_merged(sessionmaker: Sessionmaker, school_id: str) -> None:
    """The complete merge, checked against the MIS mirror (not against the planner): every class has
    one band following it, every student of a class one live linked account, and each band holds
    exactly its class's students."""
    async with sessionmaker() as session:
        classes = set(await session.scalars(select(MisClass.id).where(MisClass.school_id == school_id)))
        members = (
            await session.execute(
                select(MisMembership.mis_class_id, MisMembership.mis_student_id).where(
                    MisMembership.school_id == school_id,
                    MisMembership.mis_class_id.is_not(None),
                    MisMembership.deleted_at.is_(None),
                )
            )
        ).all()
        bands = {
            b.mis_class_id: b.id
            for b in await session.scalars(
                select(Band).where(Band.school_id == school_id, Band.mis_class_id.is_not(None))
            )
        }
        pupils = {
            p.mis_student_id: p
            for p in await session.scalars(
                select(Pupil).where(Pupil.school_id == school_id, Pupil.mis_student_id.is_not(None))
            )
        }
        band_members: set[tuple[uuid.UUID, uuid.UUID]] = set(
            (
                await session.execute(
                    select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
                )
            ).all()
        )
        school = await session.get(School, school_id)
    assert school is not None
    assert school.state == "syncing"
    assert set(bands) == classes
    in_classes = {s for _, s in members}
    assert in_classes <= set(pupils)
    assert all(pupils[s].archived_at is None for s in in_classes)
    assert band_members == {(bands[c], pupils[s].id) for c, s in members}


async def run_of(sessionmaker: Sessionmaker, run_id: uuid.UUID) -> SyncRun:
    async with sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
    assert run is not None
    return run


async def active_runs(sessionmaker: Sessionmaker, school_id: str) -> list[SyncRun]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(SyncRun).where(SyncRun.school_id == school_id, SyncRun.status.in_(("queued", "running")))
            )
        )
