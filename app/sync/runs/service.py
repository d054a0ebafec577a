"""Sync runs: the record of every fetch, merge, reconcile, disconnect (and ping) of a school."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.kit.jobs import PING, enqueue
from app.kit.pagination import PageParams
from app.kit.repository import SchoolScoped, paginate
from app.kit.time import utc_now
from app.models import Band, Pupil, SyncRun


class RunNotFound(NotFound):
    """Run not found."""


class SyncAlreadyRunning(Conflict):
    """A merge, reconcile or disconnect of this school is already queued or running."""


class RunRepository(SchoolScoped[SyncRun]):
    model = SyncRun


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
    run = SyncRun(school_id=school_id, kind="ping", trigger="manual", status="queued", actor=actor)
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
    if run is None or run.status in ("succeeded", "failed"):
        return run
    now = utc_now()
    bands = await session.scalar(select(func.count()).select_from(Band).where(Band.school_id == run.school_id))
    pupils = await session.scalar(select(func.count()).select_from(Pupil).where(Pupil.school_id == run.school_id))
    run.status = "succeeded"
    run.started_at = run.started_at or now
    run.finished_at = now
    run.counts = {"bands": int(bands or 0), "pupils": int(pupils or 0)}
    await session.flush()
    return run


async def get_run(session: AsyncSession, school_id: str, run_id: uuid.UUID) -> SyncRun:
    run = await RunRepository(session, school_id).get(run_id)
    if run is None:
        raise RunNotFound()
    return run


async def list_runs(session: AsyncSession, school_id: str, page: PageParams) -> tuple[list[SyncRun], int]:
    statement = RunRepository(session, school_id).for_school().order_by(SyncRun.created_at.desc(), SyncRun.id)
    return await paginate(session, statement, page)
