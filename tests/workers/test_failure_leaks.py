"""A job that fails on a child's record leaves no trace of that record: not in the run's error (teachers
read it), not in any log line (arq logs a failed job with its traceback), not in Redis (arq keeps the
job's result, the exception included, in ``arq:result:*``).

PostgreSQL itself refuses the record here (a trigger whose error quotes the whole row, as a check
constraint's "Failing row contains (...)" does), so the database error's text and the statement's
parameters both carry every name and UPN of the read."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Retry

from app.config import Settings, WondeSettings
from app.kit.crypto import SecretBox
from app.kit.jobs import READ, JobQueue
from app.kit.logging import JsonFormatter
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.mirror.service import start_read
from app.sync.runs.failures import JobFailed
from tests.fixtures.database import Committed, database_refuses
from tests.fixtures.worker import burst_worker
from workers import jobs

BASE = "https://api.wonde.com/v1.0"
WONDE_SCHOOL = "A7777777777"


def _student(wonde_id: str, forename: str, surname: str, upn: str) -> dict[str, Any]:
    return {
        "id": wonde_id,
        "upi": None,
        "mis_id": wonde_id[-4:],
        "forename": forename,
        "surname": surname,
        "legal_forename": forename,
        "legal_surname": surname,
        "middle_names": None,
        "updated_at": {"date": "2026-11-02 06:03:11.000000", "timezone_type": 3, "timezone": "UTC"},
        "education_details": {"data": {"upn": upn, "current_nc_year": "4"}},
        "year": {"data": None},
        "groups": {"data": []},
        "classes": {"data": []},
    }


def _page(items: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(200, json={"data": items, "meta": {"pagination": {"next": None, "more": False}}})


class Poison:
    """The read's names and UPNs: distinctive, so that finding one anywhere can only be a leak."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.forename = f"Poisonforename{tag}"
        self.students = [
            _student("A1000000001", self.forename, f"Poisonsurname{tag}", f"P{tag}0001"),
            _student("A1000000002", f"Innocentforename{tag}", f"Innocentsurname{tag}", f"Q{tag}0002"),
        ]
        self.values = [s[field] for s in self.students for field in ("forename", "surname")] + [
            s["education_details"]["data"]["upn"] for s in self.students
        ]

    def found_in(self, text: str | bytes) -> list[str]:
        if isinstance(text, bytes):
            return [v for v in self.values if v.encode() in text]
        return [v for v in self.values if v in text]


@pytest.fixture
def poison() -> Poison:
    return Poison()


@pytest.fixture
def wonde_mock(poison: Poison) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{BASE}/schools/{WONDE_SCHOOL}/students").mock(return_value=_page(poison.students))
        router.get(f"{BASE}/schools/{WONDE_SCHOOL}/classes").mock(return_value=_page([]))
        router.get(f"{BASE}/schools/{WONDE_SCHOOL}/groups").mock(return_value=_page([]))
        yield router


# How to read every part of a key of each type, as Redis stores it.
READ_ALL = {
    b"string": ("GET",),
    b"list": ("LRANGE", 0, -1),
    b"set": ("SMEMBERS",),
    b"zset": ("ZRANGE", 0, -1, "WITHSCORES"),
    b"hash": ("HGETALL",),
    b"stream": ("XRANGE", "-", "+"),
}


async def _redis_dump(redis: ArqRedis) -> dict[bytes, bytes]:
    """Every key of the Redis database and its value, raw (``repr`` of the parts for non-strings)."""
    dump: dict[bytes, bytes] = {}
    # Plain commands, so every type is read the same way (redis-py leaves execute_command untyped).
    async for key in redis.scan_iter(count=500):
        kind = await redis.execute_command("TYPE", key)  # type: ignore[no-untyped-call]
        if (command := READ_ALL.get(kind if isinstance(kind, bytes) else str(kind).encode())) is None:
            continue  # gone meanwhile
        value = await redis.execute_command(command[0], key, *command[1:])  # type: ignore[no-untyped-call]
        dump[key] = value if isinstance(value, bytes) else repr(value).encode()
    return dump


async def test_a_read_refused_by_the_database_leaves_no_name_in_the_run_the_logs_or_redis(
    committed: Committed,
    settings: Settings,
    wonde_mock: respx.MockRouter,
    poison: Poison,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker_settings = settings.model_copy(
        update={
            "wonde": WondeSettings(base_url=BASE, retry_base_delay_seconds=0),
            "queue_name": f"{settings.queue_name}:leak:{uuid.uuid4().hex[:6]}",
        }
    )
    school_id = committed.track(f"leak-{uuid.uuid4().hex[:8]}")
    school = School(
        id=school_id,
        name="Leak Primary",
        wonde_school_id=WONDE_SCHOOL,
        wonde_domain="api.wonde.com",
        wonde_token_encrypted=SecretBox(settings.encryption_key).encrypt("school-token"),
    )
    redis = ArqRedis.from_url(settings.redis_url)
    worker = burst_worker(worker_settings, [jobs.read_school])
    run_id: uuid.UUID | None = None
    try:
        # The worker's own start-up configures logging (replacing the root logger's handlers): run it
        # on an empty queue first, then listen on the root logger at DEBUG while the job runs.
        await worker.main()
        logging.getLogger().addHandler(caplog.handler)
        caplog.set_level(logging.DEBUG)
        async with database_refuses(committed.sessionmaker, "mis_students", "forename", poison.forename):
            async with unit_of_work(committed.sessionmaker, JobQueue(redis, worker_settings.queue_name)) as session:
                session.add(school)
                await session.flush()
                run = await start_read(session, school_id, kind=RunKind.FULL_READ, trigger=RunTrigger.MANUAL)
                run_id = run.id
            await worker.main()
        assert wonde_mock.calls.call_count == 3  # the whole read arrived: it failed writing

        async with committed.sessionmaker() as session:
            failed = await session.get(SyncRun, run_id)
        assert failed is not None
        assert failed.status == "failed"
        assert failed.error is not None
        assert poison.found_in(failed.error) == [], failed.error
        assert failed.failure_code == "database_error"
        assert "IntegrityError" in failed.error  # the exception's class is said, never its text

        logged = [JsonFormatter().format(record) for record in caplog.records]
        assert any('"failure_code": "database_error"' in line for line in logged)
        assert any("JobFailed" in line and "arq" in line for line in logged)  # arq's own line was heard
        leaks = [line for line in logged if poison.found_in(line)]
        assert leaks == []

        job_id = READ.job_id(run_id)
        result = await Job(job_id, redis, _queue_name=worker_settings.queue_name).result_info()
        assert result is not None
        assert not result.success
        assert str(result.result) == f"run {run_id} failed: database_error"
        dump = await _redis_dump(redis)
        assert f"arq:result:{job_id}".encode() in dump
        assert {
            key: poison.found_in(key + b" " + value) for key, value in dump.items() if poison.found_in(key + value)
        } == {}
    finally:
        await worker.close()
        if run_id is not None:
            await redis.delete(f"arq:result:{READ.job_id(run_id)}")
        await redis.aclose()


async def test_every_job_raises_only_a_failure_code_and_its_id(caplog: pytest.LogCaptureFixture) -> None:
    """Whatever escapes a flow (a reconcile's, a webhook's) leaves the job as ``JobFailed``, logged by code."""

    @jobs.failing_safely("webhook event")
    async def refused(ctx: object, event_id: str) -> str:
        raise ValueError("Failing row contains (Amelia, Hartley)")

    @jobs.failing_safely("run")
    async def retried(ctx: object, run_id: str) -> str:
        raise Retry(defer=1)

    with pytest.raises(JobFailed) as raised, caplog.at_level(logging.ERROR):
        await refused({}, "e-1")
    assert str(raised.value) == "webhook event e-1 failed: internal_error"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    [line] = [JsonFormatter().format(record) for record in caplog.records]
    assert '"failure_code": "internal_error"' in line and '"detail": "ValueError"' in line
    assert "Amelia" not in line
    with pytest.raises(Retry):  # arq's own request to run the job again passes through
        await retried({}, "r-1")
