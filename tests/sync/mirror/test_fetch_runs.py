"""The read job's bookkeeping: a run is marked running, then succeeded with its counts and requests,
or failed with the reason and the mirror untouched. Wonde is mocked with respx here; the sandbox
tests (tests/sync/mirror/test_fetch_sandbox.py) drive the same code over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select

from app.kit.crypto import SecretBox
from app.models import MisStudent, School, SyncRun
from app.sync.mirror import flow as fetch
from app.sync.mirror.flow import run_read
from app.sync.runs.failures import SENTENCES, Failure, FailureCode
from app.wonde.client import WondeClient
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.wonde import no_sleep

PAYLOADS = Path(__file__).resolve().parents[2] / "wonde_payloads"
BASE = "https://api.wonde.com/v1.0"
WONDE_SCHOOL = "A9999999999"

pytestmark = pytest.mark.wonde(base_url=BASE, attempts=2, base_delay=0, sleep=no_sleep)


def payload(name: str) -> object:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


async def _school(committed: Committed, box: SecretBox, *, connected: bool = True) -> str:
    school_id = committed.track(f"fetch-{uuid.uuid4().hex[:8]}")
    school = School(id=school_id, name="Fetch Primary")
    if connected:
        school.wonde_school_id, school.wonde_domain = WONDE_SCHOOL, "api.wonde.com"
        school.wonde_token_encrypted = box.encrypt("school-token")
    async with committed.sessionmaker() as session:
        session.add(school)
        await session.commit()
    return school_id


async def _run(committed: Committed, school_id: str, kind: str = "full_read") -> uuid.UUID:
    async with committed.sessionmaker() as session:
        run = SyncRun(school_id=school_id, kind=kind, trigger="manual", status="queued")
        session.add(run)
        await session.commit()
        return run.id


def _serve_school(mock: respx.MockRouter) -> None:
    students = mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/students")
    students.side_effect = [
        httpx.Response(200, json=payload("students_page1")),
        httpx.Response(200, json=payload("students_page2")),
    ]
    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/classes").mock(return_value=httpx.Response(200, json=payload("classes")))
    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/groups").mock(return_value=httpx.Response(200, json=payload("groups")))


async def test_a_successful_read_records_counts_and_requests(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter
) -> None:
    school_id = await _school(committed, box)
    run_id = await _run(committed, school_id, kind="delta_read")
    _serve_school(mock)
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "succeeded"
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
        school = await session.get(School, school_id)
    assert run is not None
    assert school is not None
    assert run.kind == "full_read"  # a delta with nothing before it is a full read
    assert (run.status, run.requests_made, run.error) == ("succeeded", 4, None)
    assert run.counts["students"] == {"inserted": 3, "updated": 0, "deleted": 0}
    assert run.started_at is not None
    assert run.finished_at is not None
    assert school.last_full_read_at == run.started_at
    # A job delivered twice does nothing the second time.
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "finished already"


async def test_a_failed_read_records_the_reason_and_changes_nothing(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter
) -> None:
    school_id = await _school(committed, box)
    _serve_school(mock)
    assert await run_read(committed.sessionmaker, wonde, box, await _run(committed, school_id)) == "succeeded"

    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/students").mock(
        return_value=httpx.Response(200, json=payload("students_page2"))
    )
    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/classes").mock(return_value=httpx.Response(503))
    failed_id = await _run(committed, school_id)
    assert await run_read(committed.sessionmaker, wonde, box, failed_id) == "failed"
    async with committed.sessionmaker() as session:
        failed = await session.get(SyncRun, failed_id)
        live = await session.scalar(
            select(func.count())
            .select_from(MisStudent)
            .where(MisStudent.school_id == school_id, MisStudent.deleted_at.is_(None))
        )
    assert failed is not None
    assert (failed.status, failed.failure_code) == ("failed", "wonde_unavailable")
    assert failed.error == Failure(FailureCode.WONDE_UNAVAILABLE, "gave up after 2 attempts: server error (503)").text
    assert failed.requests_made == 3
    assert live == 3  # the read that failed removed no one


async def test_a_school_without_a_wonde_link_fails_clearly(
    committed: Committed, wonde: WondeClient, box: SecretBox
) -> None:
    school_id = await _school(committed, box, connected=False)
    run_id = await _run(committed, school_id)
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "failed"
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
    assert run is not None
    assert (run.failure_code, run.error) == ("not_connected", SENTENCES[FailureCode.NOT_CONNECTED])


@pytest.mark.parametrize("domain", ["127.0.0.1/.wonde.com", "evil.example?.wonde.com", "evil.example#.wonde.com"])
async def test_a_tampered_region_domain_fails_the_read_before_any_request(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter, domain: str
) -> None:
    school_id = await _school(committed, box)
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        assert school is not None
        school.wonde_domain = domain
        await session.commit()
    anywhere = mock.route().mock(return_value=httpx.Response(200, json={"data": []}))
    run_id = await _run(committed, school_id)
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "failed"
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
    assert run is not None
    assert not anywhere.called  # the school's token went nowhere
    assert run.error is not None
    assert run.failure_code == "read_inconsistent"
    assert "refusing region domain" in run.error
    assert run.requests_made == 0


def _student(wonde_id: str | None) -> dict[str, object]:
    return (
        {"id": wonde_id, "forename": "Amy", "surname": "Jones"} if wonde_id else {"forename": "Amy", "surname": "Jones"}
    )


def _pages(*pages: list[dict[str, object]], next_host: str = "api.wonde.com") -> list[httpx.Response]:
    responses = []
    for number, items in enumerate(pages, start=1):
        last = number == len(pages)
        next_url = None if last else f"https://{next_host}/v1.0/schools/{WONDE_SCHOOL}/students?page={number + 1}"
        responses.append(
            httpx.Response(200, json={"data": items, "meta": {"pagination": {"next": next_url, "more": not last}}})
        )
    return responses


@pytest.mark.parametrize(
    ("responses", "reason"),
    [
        (_pages([_student("S1")], [_student("S1")]), "student S1 was returned twice"),
        (_pages([_student("S1")], [_student(None)]), "students page 2 item 1 cannot be read (fields: id)"),
        (_pages([_student("S1")], [_student("S2")], next_host="elsewhere.example"), "next link to another host"),
        ([httpx.Response(200, json={"data": "nonsense"})], "students page 1 is not a Wonde list"),
    ],
    ids=["duplicate-id", "no-id", "other-host", "unparseable"],
)
async def test_bad_pages_fail_the_read_and_leave_the_mirror_as_it_was(
    committed: Committed,
    wonde: WondeClient,
    box: SecretBox,
    mock: respx.MockRouter,
    responses: list[httpx.Response],
    reason: str,
) -> None:
    school_id = await _school(committed, box)
    _serve_school(mock)
    assert await run_read(committed.sessionmaker, wonde, box, await _run(committed, school_id)) == "succeeded"
    async with committed.sessionmaker() as session:
        before = sorted(
            (s.wonde_id, s.updated_at, s.deleted_at)
            for s in await session.scalars(select(MisStudent).where(MisStudent.school_id == school_id))
        )

    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/students").side_effect = responses
    run_id = await _run(committed, school_id)
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "failed"
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
        after = sorted(
            (s.wonde_id, s.updated_at, s.deleted_at)
            for s in await session.scalars(select(MisStudent).where(MisStudent.school_id == school_id))
        )
    assert run is not None
    assert run.error is not None
    assert run.failure_code == "read_inconsistent"
    assert reason in run.error
    assert after == before


async def test_a_read_keeps_how_its_wonde_requests_ended_whether_it_succeeds_or_fails(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter
) -> None:
    school_id = await _school(committed, box)
    _serve_school(mock)
    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/groups").side_effect = [
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, json=payload("groups")),
    ]
    succeeded_id = await _run(committed, school_id)
    assert await run_read(committed.sessionmaker, wonde, box, succeeded_id) == "succeeded"

    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/students").mock(
        return_value=httpx.Response(200, json=payload("students_page2"))
    )
    mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/classes").side_effect = [httpx.Response(500), httpx.ReadTimeout("slow")]
    failed_id = await _run(committed, school_id)
    assert await run_read(committed.sessionmaker, wonde, box, failed_id) == "failed"

    async with committed.sessionmaker() as session:
        succeeded = await session.get(SyncRun, succeeded_id)
        failed = await session.get(SyncRun, failed_id)
    assert succeeded is not None
    assert failed is not None
    assert succeeded.counts["wonde_responses"] == {"200": 4, "429": 1}
    assert failed.counts["wonde_responses"] == {"200": 1, "500": 1, "timeout": 1}
    assert failed.requests_made == 3
    assert failed.progress["phase"] == "failed"


async def test_progress_is_committed_page_by_page_while_the_read_goes_on(
    committed: Committed,
    wonde: WondeClient,
    box: SecretBox,
    mock: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    client: httpx.AsyncClient,
    auth: TokenFactory,
) -> None:
    monkeypatch.setattr(fetch, "PROGRESS_EVERY_SECONDS", 0.0)
    seen: list[dict[str, Any] | None] = []
    write = fetch.ReadProgress.write

    async def write_and_look(progress: fetch.ReadProgress, phase: str) -> None:
        await write(progress, phase)
        # Another connection sees it at once: it was committed, not left in the read's transaction.
        async with committed.sessionmaker() as session:
            seen.append(await session.scalar(select(SyncRun.progress).where(SyncRun.id == progress.run_id)))

    monkeypatch.setattr(fetch.ReadProgress, "write", write_and_look)
    school_id = await _school(committed, box)
    run_id = await _run(committed, school_id)
    _serve_school(mock)
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "succeeded"

    assert seen == [
        {"phase": "reading", "pages": 1, "students": 0},
        {"phase": "reading", "pages": 2, "students": 2},
        {"phase": "reading", "pages": 3, "students": 3},
        {"phase": "reading", "pages": 4, "students": 3},
        {"phase": "writing", "pages": 4, "students": 3},
    ]
    response = await client.get(f"/v1/schools/{school_id}/runs/{run_id}", headers=auth(school_id))
    assert response.status_code == 200
    assert response.json()["progress"] == {"phase": "done", "pages": 4, "students": 3}
    assert "Jones" not in json.dumps(seen) + response.text  # counts only, never a pupil's name


async def test_progress_writes_are_throttled_but_phases_are_always_written(
    committed: Committed, wonde: WondeClient, box: SecretBox, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    phases: list[str] = []
    write = fetch.ReadProgress.write

    async def record(progress: fetch.ReadProgress, phase: str) -> None:
        phases.append(phase)
        await write(progress, phase)

    monkeypatch.setattr(fetch.ReadProgress, "write", record)
    school_id = await _school(committed, box)
    run_id = await _run(committed, school_id)
    _serve_school(mock)
    assert await run_read(committed.sessionmaker, wonde, box, run_id) == "succeeded"
    assert phases == ["writing"]  # four pages well within PROGRESS_EVERY_SECONDS: no page write
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
    assert run is not None
    assert run.progress == {"phase": "done", "pages": 4, "students": 3}
