"""Queueing a read of a school from Wonde, and deciding whether it reads everything or only what changed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.jobs import READ, enqueue
from app.models import School, SyncRun

FULL_READ = "full_read"


DELTA_READ = "delta_read"


# Wonde's updated_after semantics at the edges are unconfirmed: ask again for the last hour.
DELTA_SAFETY_MARGIN = timedelta(hours=1)


# "Sync now" reads only what changed when the last full read is younger than this; nightly runs read all.
FULL_READ_EVERY = timedelta(hours=24)


async def start_read(
    session: AsyncSession, school_id: str, *, kind: str, trigger: str, actor: str | None = None
) -> SyncRun:
    """Queue a read of the school: a ``queued`` run, and its job sent after commit. The job id is the
    run's, so a finished job's kept result never swallows the next one; reads are idempotent, and
    their writes are serialised by the school's lock."""
    run = SyncRun(id=uuid.uuid4(), school_id=school_id, kind=kind, trigger=trigger, status="queued", actor=actor)
    session.add(run)
    await session.flush()
    enqueue(session, READ, run.id)
    return run


def delta_since(school: School) -> datetime | None:
    """Where a delta read starts: the last successful read's start, minus the margin; None = never read."""
    reads = [moment for moment in (school.last_full_read_at, school.last_delta_read_at) if moment is not None]
    return max(reads) - DELTA_SAFETY_MARGIN if reads else None
