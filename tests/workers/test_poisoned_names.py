"""Poisoned MIS names through the whole journey, on the real worker (issue 14): a sandbox school whose
names carry NUL bytes, direction overrides, escape sequences and line breaks is read, merged and synced
by the real job functions; its children get clean names; and then the database refuses one child's
record in a later sync. Nowhere — no log line (arq's included, tracebacks formatted), no Redis key or
value (arq's kept results included), no run row (error, counts, progress) — holds a name or a UPN."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from arq.connections import ArqRedis
from sqlalchemy import select

from app.config import Settings, WondeSettings
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.logging import JsonFormatter
from app.kit.unit_of_work import unit_of_work
from app.models import MisStudent, Pupil, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.mirror.service import start_read
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.database import Committed, database_refuses
from tests.fixtures.schools import connect, import_every_class, mis_event, queue_merge, queue_sync
from tests.fixtures.worker import burst_worker
from tests.workers.test_failure_leaks import _redis_dump

pytestmark = pytest.mark.slow


async def test_poisoned_names_are_read_merged_and_synced_clean_and_never_leak(
    committed: Committed,
    sandbox: SandboxServer,
    settings: Settings,
    redis: ArqRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tag = uuid.uuid4().hex[:8]  # in every name, and nowhere else (not in a queue's or a school's id)
    other = uuid.uuid4().hex[:8]
    poisons = {  # as the MIS sends them -> as the app must store them
        f"Ell\x00a{tag}": f"Ella{tag}",
        f"\u202eSilva{tag}": f"Silva{tag}",
        f"Ja\x07ck\x1b[2J{tag}": f"Jack[2J{tag}",
        f"Ro\r\nss{tag}": f"Ro ss{tag}",
    }
    worker_settings = settings.model_copy(
        update={
            "wonde": WondeSettings(base_url=sandbox.base_url, retry_base_delay_seconds=0),
            "queue_name": f"{settings.queue_name}:poison:{other}",
        }
    )
    queue = JobQueue(redis, worker_settings.queue_name)
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await connect(
        committed.sessionmaker,
        sandbox,
        box,
        pupils=80,
        seed=int(tag, 16) % 10_000,
        school_id=committed.track(f"poison-{other}"),
    )
    students = sorted(sandbox.state.school(wonde_school).students)
    upns = [s.upn for s in sandbox.state.school(wonde_school).students.values() if s.upn]
    for student_id, raw in zip(students, poisons, strict=False):
        mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": student_id, "forename": raw})
    worker = burst_worker(worker_settings)
    try:
        await worker.main()  # start-up configures logging: listen from here on
        logging.getLogger().addHandler(caplog.handler)
        caplog.set_level(logging.DEBUG)

        async with unit_of_work(committed.sessionmaker, queue) as session:
            await start_read(session, school_id, kind=RunKind.FULL_READ, trigger=RunTrigger.MANUAL)
        await worker.main()
        await import_every_class(committed.sessionmaker, school_id)
        await queue_merge(committed.sessionmaker, queue, school_id)
        await worker.main()
        # A second wave of poison reaches the app by a sync: the first four are renamed again.
        for student_id, raw in zip(students[4:], poisons, strict=False):
            mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": student_id, "surname": raw})
        await queue_sync(committed.sessionmaker, queue, school_id)
        await worker.main()
        async with committed.sessionmaker() as session:
            stored = {
                wonde_id: (first, last)
                for wonde_id, first, last in (
                    await session.execute(
                        select(MisStudent.wonde_id, Pupil.first_name, Pupil.last_name)
                        .join(Pupil, Pupil.mis_student_id == MisStudent.id)
                        .where(MisStudent.school_id == school_id, MisStudent.wonde_id.in_(students[:8]))
                    )
                ).all()
            }
            statuses = list(
                await session.scalars(
                    select(SyncRun.status).where(SyncRun.school_id == school_id).order_by(SyncRun.created_at)
                )
            )
        assert statuses == ["succeeded"] * len(statuses) and len(statuses) == 4, (
            statuses
        )  # read, merge, sync + its read
        cleaned = list(poisons.values())
        assert [stored[s][0] for s in students[:4]] == cleaned
        assert [stored[s][1] for s in students[4:8]] == cleaned

        # Then the database refuses one child's record: the sync's read fails, by its code alone.
        mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": students[0], "surname": f"Refused{tag}"})
        async with database_refuses(committed.sessionmaker, "mis_students", "surname", f"Refused{tag}"):
            await queue_sync(committed.sessionmaker, queue, school_id)
            await worker.main()
        async with committed.sessionmaker() as session:
            runs = list(await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id)))
        assert "database_error" in {run.failure_code for run in runs}
    finally:
        await worker.close()

    secrets = [tag, *upns]  # every name here carries the tag; UPNs are the children's own
    assert all(tag in name for name in cleaned)
    rows = [json.dumps([r.error, r.counts, r.progress, r.actor], default=str) for r in runs]
    assert [row for row in rows if any(s in row for s in secrets)] == []
    logged = [JsonFormatter().format(record) for record in caplog.records]
    assert any('"failure_code": "database_error"' in line for line in logged)
    assert [line for line in logged if any(s in line for s in secrets)] == []
    dump = await _redis_dump(redis)
    leaks = {key: value[:200] for key, value in dump.items() if any(s.encode() in key + value for s in secrets)}
    assert leaks == {}
