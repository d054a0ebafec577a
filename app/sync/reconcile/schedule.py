"""The nightly sync: each syncing school once a night, in its own early morning, spread over a window.

Every school gets a fixed slot between 02:00 and 05:00 local time (from a hash of its id), so a
hundred schools do not all start at 02:00. A cron job every quarter of an hour queues the schools whose
slot has come and that have no scheduled sync yet that local day; the one-active-run index and the
per-run job ids keep it to one sync per school at a time.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.models.sync_run import RunTrigger
from app.sync.reconcile.repository import syncing_schools
from app.sync.reconcile.service import start_sync

WINDOW_START = time(2, 0)
WINDOW_MINUTES = 180


def slot(school_id: str) -> time:
    """The school's own start time inside the nightly window, the same every night."""
    minutes = int(hashlib.sha256(school_id.encode()).hexdigest(), 16) % WINDOW_MINUTES
    start = datetime.combine(date(2000, 1, 1), WINDOW_START) + timedelta(minutes=minutes)
    return start.time()


def due(school_id: str, timezone: str, now: datetime, last_scheduled: datetime | None) -> bool:
    """Whether the school's nightly sync should start now: its slot has passed in its local night and
    none has been scheduled yet on this local day."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    window_end = (datetime.combine(local.date(), WINDOW_START) + timedelta(minutes=WINDOW_MINUTES)).time()
    if not (slot(school_id) <= local.time() < window_end):
        return False
    return last_scheduled is None or last_scheduled.astimezone(zone).date() < local.date()


async def queue_nightly_syncs(session: AsyncSession, now: datetime) -> list[str]:
    """Queue the syncs that are due; returns the schools queued."""
    queued = []
    for school_id, timezone, last_scheduled in await syncing_schools(session):
        if due(school_id, timezone, now, last_scheduled):
            try:
                await start_sync(session, school_id, trigger=RunTrigger.SCHEDULE, actor="nightly")
            except Conflict:
                continue  # a sync is already running; the next quarter-hour will see it done
            queued.append(school_id)
    return queued
