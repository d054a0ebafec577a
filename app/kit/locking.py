"""Per-school advisory locks: runs that change a school's state are serial per school."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

# First key of the two-key advisory lock, so our locks cannot collide with another application's.
_LOCK_NAMESPACE = 0x62616E64  # "band"


async def lock_school(session: AsyncSession, school_id: str) -> None:
    """Block until this transaction holds the school's lock; it is released at commit or rollback."""
    await session.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(school_id))))
