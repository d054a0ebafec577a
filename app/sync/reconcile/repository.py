"""The daily sync's one query across schools: which schools sync, and when each was last scheduled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger


async def syncing_schools(session: AsyncSession) -> list[tuple[str, str, datetime | None]]:
    """(school id, time zone, when its last nightly sync was queued) of every syncing school."""
    last = (
        select(SyncRun.school_id, func.max(SyncRun.created_at).label("at"))
        .where(SyncRun.kind == RunKind.RECONCILE, SyncRun.trigger == RunTrigger.SCHEDULE)
        .group_by(SyncRun.school_id)
        .subquery()
    )
    rows = await session.execute(
        select(School.id, School.timezone, last.c.at)
        .outerjoin(last, last.c.school_id == School.id)
        .where(School.state == SchoolState.SYNCING)
    )
    return [(school_id, timezone, at) for school_id, timezone, at in rows]
