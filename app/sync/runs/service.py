"""Sync runs: the record of every fetch, merge, reconcile, disconnect (and ping) of a school.

A run is made by ``new_run`` and moves only through ``start``, ``succeed`` and ``fail``: queued ->
running -> succeeded or failed. No other module writes a run's status.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.kit.jobs import PING, enqueue
from app.kit.pagination import PageParams
from app.kit.repository import paginate
from app.kit.time import utc_now
from app.models import SyncRun
from app.models.sync_run import FINISHED_RUN_STATUSES, RunKind, RunStatus, RunTrigger
from app.pupils import credentials
from app.sync.runs.failures import Failure
from app.sync.runs.repository import RunRepository
from app.sync.runs.schemas import RunDetail

# The longest failure reason kept on a run.
MAX_ERROR = 2000


class RunNotFound(NotFound):
    """Run not found."""


class SyncAlreadyRunning(Conflict):
    """A merge, reconcile or disconnect of this school is already queued or running."""


def new_run(school_id: str, kind: RunKind, trigger: RunTrigger, actor: str | None) -> SyncRun:
    """A queued run, with its id (not yet added to a session)."""
    return SyncRun(
        id=uuid.uuid4(), school_id=school_id, kind=kind, trigger=trigger, status=RunStatus.QUEUED, actor=actor
    )


def start(run: SyncRun, now: datetime | None = None) -> None:
    """The run is being carried out from ``now`` (again, when an earlier worker of it died)."""
    run.status, run.started_at, run.finished_at = RunStatus.RUNNING, now or utc_now(), None
    run.error, run.failure_code = None, None


def succeed(run: SyncRun, *, counts: dict[str, Any] | None = None, now: datetime | None = None) -> None:
    """The run finished; ``counts``, when given, are what it did."""
    run.status, run.finished_at = RunStatus.SUCCEEDED, now or utc_now()
    if counts is not None:
        run.counts = counts


def fail(run: SyncRun, failure: Failure, now: datetime | None = None) -> None:
    """The run stopped for ``failure``: its code, and its text (kept to its first ``MAX_ERROR``
    characters) as the run's error, which teachers read: a code's sentence and safe details only."""
    run.status, run.finished_at = RunStatus.FAILED, now or utc_now()
    run.error, run.failure_code = failure.text[:MAX_ERROR], failure.code


async def claim_school(session: AsyncSession, run: SyncRun) -> SyncRun:
    """Add a run that must be the school's only active one: the one-active-run index refuses it
    (409) while another merge, reconcile, undo or disconnect is queued or running."""
    try:
        async with session.begin_nested():
            session.add(run)
            await session.flush()
    except IntegrityError as exc:
        raise SyncAlreadyRunning() from exc
    return run


async def start_ping(session: AsyncSession, school_id: str, actor: str) -> SyncRun:
    """Record a queued ping run and hand it to a worker: proves the queue and workers serve this school."""
    run = new_run(school_id, RunKind.PING, RunTrigger.MANUAL, actor)
    session.add(run)
    await session.flush()
    await session.refresh(run)
    enqueue(session, PING, run.id)
    return run


async def complete_ping(session: AsyncSession, run_id: uuid.UUID) -> SyncRun | None:
    """The worker's side of a ping: count the school's bands and pupils and mark the run done.

    Idempotent: a run that already finished is left as it is (arq may deliver a job twice).
    """
    run = await session.get(SyncRun, run_id, with_for_update=True)
    if run is None or run.status in FINISHED_RUN_STATUSES:
        return run
    now = utc_now()
    counts = await RunRepository(session, run.school_id).ping_counts()
    start(run, run.started_at or now)
    succeed(run, counts=counts, now=now)
    await session.flush()
    return run


async def get_run(session: AsyncSession, school_id: str, run_id: uuid.UUID) -> SyncRun:
    run = await RunRepository(session, school_id).get(run_id)
    if run is None:
        raise RunNotFound()
    return run


async def run_detail(session: AsyncSession, school_id: str, run_id: uuid.UUID) -> RunDetail:
    """The run, with how many of its login details wait to be handed out."""
    run = await get_run(session, school_id, run_id)
    return RunDetail.of(run, await credentials.count_waiting(session, school_id, run_id))


async def list_runs(session: AsyncSession, school_id: str, page: PageParams) -> tuple[list[SyncRun], int]:
    return await paginate(session, RunRepository(session, school_id).newest_first(), page)
