"""A sync whose read failed: the sync fails with the read's failure code and says the read's text; a read
the database refused ends the job with ``JobFailed`` (code and run id only), leaving the sync to recovery."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import respx

from app.kit.crypto import SecretBox
from app.models import School, SyncRun
from app.sync.reconcile.flow import run_sync
from app.sync.runs.failures import Failure, FailureCode, JobFailed
from app.wonde.client import WondeClient
from tests.fixtures.database import Committed, database_refuses
from tests.fixtures.wonde import no_sleep

BASE = "https://api.wonde.com/v1.0"
WONDE_SCHOOL = "A8888888888"

pytestmark = pytest.mark.wonde(base_url=BASE, attempts=2, base_delay=0, sleep=no_sleep)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


async def _syncing_school_and_sync(committed: Committed, box: SecretBox) -> tuple[str, uuid.UUID]:
    school_id = committed.track(f"syncfail-{uuid.uuid4().hex[:8]}")
    async with committed.sessionmaker() as session:
        session.add(
            School(
                id=school_id,
                name="Failing Primary",
                state="syncing",
                wonde_school_id=WONDE_SCHOOL,
                wonde_domain="api.wonde.com",
                wonde_token_encrypted=box.encrypt("school-token"),
            )
        )
        await session.flush()
        run = SyncRun(school_id=school_id, kind="reconcile", trigger="manual", status="queued", actor="t")
        session.add(run)
        await session.commit()
    return school_id, run.id


async def _sync_and_its_read(committed: Committed, run_id: uuid.UUID) -> tuple[SyncRun, SyncRun]:
    async with committed.sessionmaker() as session:
        sync = await session.get(SyncRun, run_id)
        assert sync is not None
        read = await session.get(SyncRun, uuid.UUID(sync.progress["read_run_id"]))
        assert read is not None
    return sync, read


async def test_a_sync_whose_read_failed_fails_with_the_reads_code_and_text(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter
) -> None:
    _, run_id = await _syncing_school_and_sync(committed, box)
    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/students").mock(return_value=httpx.Response(401))
    assert await run_sync(committed.sessionmaker, None, wonde, box, run_id) == "failed"
    sync, read = await _sync_and_its_read(committed, run_id)
    read_failure = Failure(
        FailureCode.WONDE_UNAUTHORISED, "access refused (401): the school's Wonde connection is broken"
    )
    assert (read.status, read.failure_code, read.error) == ("failed", "wonde_unauthorised", read_failure.text)
    assert (sync.status, sync.failure_code) == ("failed", "wonde_unauthorised")
    assert sync.error == f"The read failed, nothing was applied: {read_failure.text}"


async def test_a_sync_whose_read_the_database_refused_ends_its_job_with_the_code_only(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter
) -> None:
    _, run_id = await _syncing_school_and_sync(committed, box)
    student = {"id": "A1", "forename": "Refusedforename", "surname": "Refusedsurname"}
    for resource, items in (("students", [student]), ("classes", []), ("groups", [])):
        mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/{resource}").mock(
            return_value=httpx.Response(200, json={"data": items, "meta": {"pagination": {"next": None}}})
        )
    async with database_refuses(committed.sessionmaker, "mis_students", "forename", "Refusedforename"):
        with pytest.raises(JobFailed) as raised:
            await run_sync(committed.sessionmaker, None, wonde, box, run_id)
    sync, read = await _sync_and_its_read(committed, run_id)
    assert str(raised.value) == f"run {read.id} failed: database_error"
    assert (read.status, read.failure_code) == ("failed", "database_error")
    assert read.error is not None
    assert "Refused" not in read.error
    # The sync stays running: recovery sends its job again, and the next attempt reads again.
    assert sync.status == "running"
