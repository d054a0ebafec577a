"""Queueing a read of a school from Wonde, and deciding whether it reads everything or only what changed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.jobs import READ, enqueue
from app.models import School, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.runs.service import new_run

# Wonde's updated_after semantics at the edges are unconfirmed: ask again for the last hour.
DELTA_SAFETY_MARGIN = timedelta(hours=1)


# "Sync now" reads only what changed when the last full read is younger than this; nightly runs read all.
FULL_READ_EVERY = timedelta(hours=24)


async def start_read(
    session: AsyncSession, school_id: str, *, kind: RunKind, trigger: RunTrigger, actor: str | None = None
) -> SyncRun:
    """Queue a read of the school: a ``queued`` run, and its job sent after commit. The job id is the
    run's, so a finished job's kept result never swallows the next one; reads are idempotent, and
    their writes are serialised by the school's lock."""
    run = new_run(school_id, kind, trigger, actor)
    session.add(run)
    await session.flush()
    enqueue(session, READ, run.id)
    return run


def delta_since(school: School) -> datetime | None:
    """Where a delta read starts: the last successful read's start, minus the margin; None = never read."""
    reads = [moment for moment in (school.last_full_read_at, school.last_delta_read_at) if moment is not None]
    return max(reads) - DELTA_SAFETY_MARGIN if reads else None
