"""Concurrency: many triggers at once, drained by two real arq workers, over real PostgreSQL and Redis.

(a) One syncing school: Wonde's webhook (``schoolApproved`` again, which queues a sync), the nightly
cron (``queue_nightly_syncs``) and "sync now" (``POST /v1/schools/{id}/sync``) fire together, round
after round, over real HTTP to the ASGI app (real commits), while MIS events keep happening and two
burst workers drain the queue. Then:
- never more than one exclusive run of the school queued or running (the partial unique index; the
  refused triggers are 409s), and no two syncs ever ran at the same time;
- every queued run finished, succeeded, and every webhook event was processed; nothing deadlocked
  (the whole thing finishes under a timeout);
- no lost update: after a catch-up sync the app is the copycat projection of the MIS, the mirror
  equals the MIS, and a last sync applies nothing; never two accounts for one child.

(b) Many schools at once: syncs for all of them queued together (sync now and the cron), two workers:
every school converges, every run finishes, and no row of one school points at another's.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from arq.connections import ArqRedis
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import unit_of_work
from app.main import create_app
from app.models import School, SyncRun, WebhookEvent
from app.models.sync_run import MUTATING_RUN_KINDS
from app.sync.reconcile.schedule import WINDOW_MINUTES, WINDOW_START, queue_nightly_syncs
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from app.wonde.sandbox.webhook import webhook_payload
from tests.fixtures.app import TokenFactory
from tests.fixtures.checks import copycat_problems, duplicates, mirror_problems
from tests.fixtures.database import Committed, Sessionmaker
from tests.fixtures.report import record
from tests.fixtures.schools import mis_event, onboarded
from tests.fixtures.worker import run_burst_worker
from workers import jobs

JOBS = [jobs.sync_school, jobs.read_school, jobs.process_webhook, jobs.merge_school]
WORKERS = 2
DEADLINE_SECONDS = 240.0
NOTHING = {"held": 0, "pupils_created": 0}
EVENTS: tuple[dict[str, Any], ...] = ({"kind": "joiner"}, {"kind": "leaver"}, {"kind": "rename"})

pytestmark = pytest.mark.wonde(timeout=10.0)


@pytest.fixture
async def live_app(live_settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its own engine and queue: requests commit for real."""
    app = create_app(live_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as c:
        yield c


async def _onboarded(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, box: SecretBox, count: int
) -> list[tuple[str, str]]:
    """``count`` small syncing schools, each with MIS events pending: [(our id, Wonde's id)]."""
    schools = []
    for _ in range(count):
        school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=30, name="Busy Academy")
        for event in EVENTS:
            mis_event(sandbox, wonde_school, event)
        schools.append((school_id, wonde_school))
    return schools


def _tonight(timezone: str) -> datetime:
    """A moment when every school's nightly slot has come (the last minute of tomorrow's window)."""
    end = datetime.combine(date(2000, 1, 1), WINDOW_START) + timedelta(minutes=WINDOW_MINUTES - 1)
    tomorrow = datetime.now(ZoneInfo(timezone)).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(end.hour, end.minute), tzinfo=ZoneInfo(timezone))


async def _active(session: AsyncSession, school_ids: list[str]) -> Counter[str]:
    """Exclusive runs queued or running, per school (as committed now)."""
    rows = await session.execute(
        select(SyncRun.school_id, func.count())
        .where(
            SyncRun.school_id.in_(school_ids),
            SyncRun.kind.in_(MUTATING_RUN_KINDS),
            SyncRun.status.in_(("queued", "running")),
        )
        .group_by(SyncRun.school_id)
    )
    found = Counter({school_id: int(n) for school_id, n in rows})
    await session.rollback()
    return found


async def _unfinished(sessionmaker: Sessionmaker, school_ids: list[str]) -> list[tuple[str, str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(SyncRun.school_id, SyncRun.kind, SyncRun.status).where(
                SyncRun.school_id.in_(school_ids), SyncRun.status.in_(("queued", "running"))
            )
        )
        return [(s, k, st) for s, k, st in rows]


async def _queue_length(settings: Settings) -> int:
    redis = ArqRedis.from_url(settings.redis_url)
    try:
        return int(await redis.zcard(settings.queue_name))
    finally:
        await redis.aclose()


async def _drain(
    settings: Settings, sessionmaker: Sessionmaker, school_ids: list[str], firing: asyncio.Future[Any] | None
) -> int:
    """Two burst workers at a time, again and again, until the triggers are done, the queue is empty
    and no run of these schools is queued or running; how many rounds of workers that took."""
    rounds = 0
    while True:
        await asyncio.gather(*(run_burst_worker(settings, JOBS) for _ in range(WORKERS)))
        rounds += 1
        if (
            (firing is None or firing.done())
            and await _queue_length(settings) == 0
            and not await _unfinished(sessionmaker, school_ids)
        ):
            return rounds
        await asyncio.sleep(0.05)


async def _watch(sessionmaker: Sessionmaker, school_ids: list[str], stop: asyncio.Event) -> int:
    """The most exclusive runs any one school had queued or running at once, sampled until ``stop``."""
    most = 0
    async with sessionmaker() as session:
        while not stop.is_set():
            most = max(most, *(await _active(session, school_ids)).values(), 0)
            await asyncio.sleep(0.01)
    return most


async def _overlapping_syncs(sessionmaker: Sessionmaker, school_id: str) -> int:
    """Pairs of the school's exclusive runs whose running times overlapped."""
    async with sessionmaker() as session:
        spans = sorted(
            (started, finished)
            for started, finished in await session.execute(
                select(SyncRun.started_at, SyncRun.finished_at).where(
                    SyncRun.school_id == school_id, SyncRun.kind.in_(MUTATING_RUN_KINDS)
                )
            )
            if started is not None and finished is not None
        )
    return sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)


async def _runs(sessionmaker: Sessionmaker, school_ids: list[str], since: datetime) -> Counter[tuple[str, str]]:
    """Runs of these schools created since ``since``, by (kind, status)."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(SyncRun.kind, SyncRun.status, func.count())
            .where(SyncRun.school_id.in_(school_ids), SyncRun.created_at >= since)
            .group_by(SyncRun.kind, SyncRun.status)
        )
        return Counter({(kind, status): int(n) for kind, status, n in rows})


async def _sync_now(
    client: httpx.AsyncClient, auth: TokenFactory, school_id: str, answers: Counter[int]
) -> dict[str, Any]:
    response = await client.post(f"/v1/schools/{school_id}/sync", headers=auth(school_id))
    answers[response.status_code] += 1
    body: dict[str, Any] = response.json()
    return body


async def _settle(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    settings: Settings,
    sessionmaker: Sessionmaker,
    school_id: str,
) -> SyncRun:
    """One "sync now", carried out by the workers; the finished run."""
    answers: Counter[int] = Counter()
    body = await _sync_now(client, auth, school_id, answers)
    assert answers == {202: 1}, body
    await _drain(settings, sessionmaker, [school_id], None)
    async with sessionmaker() as session:
        run = await session.get(SyncRun, uuid.UUID(body["id"]))
    assert run is not None
    return run


async def _converged(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    settings: Settings,
    sessionmaker: Sessionmaker,
    sandbox: SandboxServer,
    school_id: str,
    wonde_school: str,
) -> list[str]:
    """A catch-up sync and a last one: the app must then be a copy of the MIS and the last sync apply nothing."""
    problems = []
    catch_up = await _settle(client, auth, settings, sessionmaker, school_id)
    if catch_up.status != "succeeded":
        problems.append(f"the catch-up sync {catch_up.status}: {catch_up.error}")
    last = await _settle(client, auth, settings, sessionmaker, school_id)
    if last.status != "succeeded" or last.counts != NOTHING:
        problems.append(f"the last sync {last.status} and applied {last.counts}")
    problems += await copycat_problems(sessionmaker, sandbox, school_id, wonde_school)
    problems += await mirror_problems(sessionmaker, sandbox, school_id, wonde_school)
    problems += await duplicates(sessionmaker, school_id)
    return problems


async def _gather_all(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    return await asyncio.gather(*(call() for call in calls))


@pytest.mark.parametrize("rounds", [pytest.param(3, id="3-rounds"), pytest.param(15, marks=pytest.mark.proof)])
async def test_one_school_under_webhooks_cron_and_sync_now_at_once(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    client: httpx.AsyncClient,
    live_app: FastAPI,
    live_settings: Settings,
    auth: TokenFactory,
    rounds: int,
) -> None:
    [(school_id, wonde_school)] = await _onboarded(committed, sandbox, wonde, box, 1)
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        assert school is not None
        night = _tonight(school.timezone)
        started = await session.scalar(select(func.now()))
    assert started is not None
    secret = live_settings.wonde.webhook_secret.get_secret_value()
    approved = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    answers: Counter[int] = Counter()
    webhooks: Counter[str] = Counter()
    cron_queued = 0

    async def webhook(delivery: int) -> None:
        # Each delivery is its own event; every other one is delivered twice (Wonde retries).
        payload = {**approved, "delivery": delivery // 2}
        response = await client.post(f"/v1/webhooks/wonde?secret={secret}", json=payload)
        if response.status_code != 202:
            webhooks[f"answered {response.status_code}"] += 1
        webhooks[response.json().get("status", "?")] += 1

    async def cron() -> None:
        nonlocal cron_queued
        sessionmaker, queue = live_app.state.sessionmaker, live_app.state.queue
        async with unit_of_work(sessionmaker, queue) as session:
            queued = await queue_nightly_syncs(session, night)
        cron_queued += len(queued)  # counted after the await, or concurrent crons would overwrite each other

    async def fire() -> None:
        for round_number in range(rounds):
            calls: list[Callable[[], Awaitable[Any]]] = []
            for i in range(4):
                calls += [
                    functools.partial(_sync_now, client, auth, school_id, answers),
                    functools.partial(webhook, round_number * 4 + i),
                    cron,
                ]
            await _gather_all(calls)
            mis_event(sandbox, wonde_school, EVENTS[round_number % len(EVENTS)])  # the MIS keeps changing
            await asyncio.sleep(0.1)

    stop = asyncio.Event()
    watcher = asyncio.ensure_future(_watch(committed.sessionmaker, [school_id], stop))
    firing = asyncio.ensure_future(fire())
    try:
        worker_rounds = await asyncio.wait_for(
            _drain(live_settings, committed.sessionmaker, [school_id], firing), DEADLINE_SECONDS
        )
        await firing
    finally:
        stop.set()
        most_active = await watcher
        if not firing.done():
            firing.cancel()
    assert worker_rounds

    problems: list[str] = []
    if most_active > 1:
        problems.append(f"{most_active} exclusive runs queued or running at once")
    if overlapping := await _overlapping_syncs(committed.sessionmaker, school_id):
        problems.append(f"{overlapping} syncs ran at the same time as another")
    if set(answers) - {202, 409} or any(k.startswith("answered") for k in webhooks):
        problems.append(f"unexpected answers {dict(answers)} {dict(webhooks)}")
    runs = await _runs(committed.sessionmaker, [school_id], started)
    if unfinished := {k: n for k, n in runs.items() if k[1] != "succeeded"}:
        problems.append(f"runs not succeeded: {unfinished}")
    async with committed.sessionmaker() as session:
        events: Counter[str] = Counter(
            status
            for (status,) in await session.execute(
                select(WebhookEvent.status).where(WebhookEvent.wonde_school_id == wonde_school)
            )
        )
    if set(events) != {"processed"}:
        problems.append(f"webhook events not all processed: {dict(events)}")
    async with committed.sessionmaker() as session:
        by_trigger: Counter[str] = Counter(
            {
                trigger: int(n)
                for trigger, n in await session.execute(
                    select(SyncRun.trigger, func.count())
                    .where(SyncRun.school_id == school_id, SyncRun.kind == "reconcile", SyncRun.created_at >= started)
                    .group_by(SyncRun.trigger)
                )
            }
        )
    problems += await _converged(client, auth, live_settings, committed.sessionmaker, sandbox, school_id, wonde_school)

    triggers = rounds * 4 * 3
    record(
        "concurrency: one school, webhook + cron + sync now at once",
        cases=triggers,
        lost_or_duplicated=len(problems),
    )
    assert not problems, problems
    # Every trigger that was accepted made exactly one sync; the test proves something only if the
    # triggers really collided (409s) and syncs really ran.
    assert by_trigger["manual"] == answers[202], (by_trigger, answers)
    assert by_trigger["schedule"] == cron_queued, (by_trigger, cron_queued)
    assert by_trigger["webhook"] <= events["processed"], (by_trigger, events)
    assert answers[409] > 0, answers
    assert sum(by_trigger.values()) >= 1, by_trigger
    assert webhooks["received"] > 0 and webhooks["duplicate"] > 0, webhooks


async def _active_or_done(sessionmaker: Sessionmaker, school_ids: list[str], since: datetime) -> set[str]:
    """The schools that had a sync since ``since``."""
    async with sessionmaker() as session:
        return set(
            await session.scalars(
                select(SyncRun.school_id).where(
                    SyncRun.school_id.in_(school_ids), SyncRun.kind == "reconcile", SyncRun.created_at >= since
                )
            )
        )


async def _cross_school_rows(sessionmaker: Sessionmaker, school_ids: list[str]) -> int:
    """Rows of one school that point at another school's run, pupil, band, student or class."""
    checks = [
        "SELECT count(*) FROM changes c JOIN sync_runs r ON r.id = c.run_id WHERE c.school_id <> r.school_id",
        "SELECT count(*) FROM credentials c JOIN sync_runs r ON r.id = c.run_id WHERE c.school_id <> r.school_id",
        "SELECT count(*) FROM pupils p JOIN mis_students s ON s.id = p.mis_student_id WHERE p.school_id <> s.school_id",
        "SELECT count(*) FROM bands b JOIN mis_classes c ON c.id = b.mis_class_id WHERE b.school_id <> c.school_id",
        "SELECT count(*) FROM band_memberships m JOIN pupils p ON p.id = m.pupil_id WHERE m.school_id <> p.school_id",
        "SELECT count(*) FROM band_memberships m JOIN bands b ON b.id = m.band_id WHERE m.school_id <> b.school_id",
        "SELECT count(*) FROM mis_memberships m JOIN mis_students s ON s.id = m.mis_student_id"
        " WHERE m.school_id <> s.school_id",
    ]
    found = 0
    async with sessionmaker() as session:
        for query in checks:
            found += int(await session.scalar(text(query)) or 0)
    return found


@pytest.mark.parametrize(
    "schools", [pytest.param(3, id="3-schools"), pytest.param(20, id="20-schools", marks=pytest.mark.proof)]
)
async def test_many_schools_synced_at_once(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    client: httpx.AsyncClient,
    live_app: FastAPI,
    live_settings: Settings,
    auth: TokenFactory,
    schools: int,
) -> None:
    onboarded = await _onboarded(committed, sandbox, wonde, box, schools)
    school_ids = [school_id for school_id, _ in onboarded]
    async with committed.sessionmaker() as session:
        started = await session.scalar(select(func.now()))
        timezones = {s.timezone for s in await session.scalars(select(School).where(School.id.in_(school_ids)))}
    assert started is not None
    assert len(timezones) == 1
    night = _tonight(timezones.pop())
    answers: Counter[int] = Counter()
    cron_queued: list[str] = []

    async def cron() -> None:
        async with unit_of_work(live_app.state.sessionmaker, live_app.state.queue) as session:
            cron_queued.extend(await queue_nightly_syncs(session, night))

    async def fire() -> None:
        calls: list[Callable[[], Awaitable[Any]]] = [cron]
        calls += [functools.partial(_sync_now, client, auth, school_id, answers) for school_id in school_ids]
        await _gather_all(calls)

    stop = asyncio.Event()
    watcher = asyncio.ensure_future(_watch(committed.sessionmaker, school_ids, stop))
    firing = asyncio.ensure_future(fire())
    try:
        await asyncio.wait_for(_drain(live_settings, committed.sessionmaker, school_ids, firing), DEADLINE_SECONDS)
        await firing
    finally:
        stop.set()
        most_active = await watcher
        if not firing.done():
            firing.cancel()

    problems: list[str] = []
    if most_active > 1:
        problems.append(f"{most_active} exclusive runs of one school queued or running at once")
    if set(answers) - {202, 409}:
        problems.append(f"unexpected answers {dict(answers)}")
    if len(set(cron_queued)) != len(cron_queued):
        problems.append("the cron queued a school twice")
    runs = await _runs(committed.sessionmaker, school_ids, started)
    if {k for k in runs if k[1] != "succeeded"}:
        problems.append(f"not every run succeeded: {dict(runs)}")
    # Every accepted trigger made one sync, and every school had one (the cron's or its own "sync now").
    if runs[("reconcile", "succeeded")] != answers[202] + len(cron_queued):
        problems.append(f"{dict(runs)} for {answers[202]} sync-now runs and {len(cron_queued)} cron runs")
    synced = await _active_or_done(committed.sessionmaker, school_ids, started)
    if synced != set(school_ids):
        problems.append(f"{len(set(school_ids) - synced)} schools were never synced")
    lost = 0
    for school_id, wonde_school in onboarded:
        found = await copycat_problems(committed.sessionmaker, sandbox, school_id, wonde_school)
        found += await mirror_problems(committed.sessionmaker, sandbox, school_id, wonde_school)
        found += await duplicates(committed.sessionmaker, school_id)
        lost += bool(found)
        problems += [f"{school_id}: {problem}" for problem in found]
    if crossed := await _cross_school_rows(committed.sessionmaker, school_ids):
        problems.append(f"{crossed} rows point at another school")

    record(f"concurrency: {schools} schools synced at once", cases=schools, lost_or_duplicated=lost)
    assert not problems, problems
