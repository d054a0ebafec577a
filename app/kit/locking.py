"""Per-school advisory locks: runs that change a school's state are serial per school."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

# How a transaction locks a school's own row to change it (``session.get(School, id,
# with_for_update=ROW_FOR_CHANGE)``): FOR NO KEY UPDATE, not FOR UPDATE. Nothing changes a school's id,
# and FOR UPDATE would also wait for every transaction that merely inserted a row referring to the school
# (a foreign key's KEY SHARE lock). A transaction that has written the school's state already holds the
# row (the state version's triggers update it), so upgrading to FOR UPDATE there deadlocked with a
# webhook that had inserted such a row and then wanted the school's row.
ROW_FOR_CHANGE = {"key_share": True}

# First key of the two-key advisory lock, so our locks cannot collide with another application's.
_LOCK_NAMESPACE = 0x62616E64  # "band"


async def lock_school(session: AsyncSession, school_id: str) -> None:
    """Block until this transaction holds the school's lock; it is released at commit or rollback."""
    await session.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(school_id))))


async def try_lock_schools(session: AsyncSession, school_ids: Sequence[str]) -> list[str]:
    """Take, without waiting, the lock of each of these schools that no other transaction holds, in one
    statement; returns the schools now locked by this transaction (released at commit or rollback)."""
    if not school_ids:
        return []
    rows = await session.execute(
        text("SELECT id FROM unnest(CAST(:ids AS text[])) AS id WHERE pg_try_advisory_xact_lock(:space, hashtext(id))"),
        {"ids": sorted(school_ids), "space": _LOCK_NAMESPACE},
    )
    return [school_id for (school_id,) in rows]
