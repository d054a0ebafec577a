from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import School

# The unique keys a registration can collide on, by constraint name: the column each one guards.
UNIQUE_KEYS = {"pk_schools": "id", "uq_schools_wonde_school_id": "wonde_school_id"}


class SchoolRepository:
    """Schools are the tenants themselves: every query is limited to the ids the caller holds."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, school_id: str) -> School | None:
        return await self.session.get(School, school_id)

    async def by_wonde_id(self, wonde_school_id: str) -> School | None:
        result = await self.session.execute(select(School).where(School.wonde_school_id == wonde_school_id))
        return result.scalar_one_or_none()

    def every(self) -> Select[School]:
        """Every school: for the platform, which registers them (and reads none of their pupils)."""
        return select(School).order_by(School.name, School.id)

    def among(self, school_ids: Collection[str], *, token_issued_at: datetime | None) -> Select[School]:
        """The schools a token names and still opens: those whose tokens were revoked after it was
        issued (or that revoked any, for a token without ``iat``) are left out, as ``open_school`` refuses them."""
        still_open: ColumnElement[bool] = School.tokens_valid_after.is_(None)
        if token_issued_at is not None:
            still_open = or_(still_open, School.tokens_valid_after <= token_issued_at)
        return self.every().where(School.id.in_(list(school_ids)), still_open)

    async def insert(self, school: School) -> str | None:
        """Add and flush the school in a savepoint. When another transaction committed the same id or
        Wonde id first (after this one looked), nothing is added and the taken column is returned."""
        return await self.flush_in_savepoint(school)

    async def flush_in_savepoint(self, new: School | None = None) -> str | None:
        """Flush the school changes (and the ``new`` school) in a savepoint: the taken unique column
        when another transaction committed the same id or Wonde id first (nothing is then written)."""
        try:
            async with self.session.begin_nested():
                if new is not None:
                    self.session.add(new)
                await self.session.flush()
        except IntegrityError as exc:
            taken = UNIQUE_KEYS.get(_constraint_name(exc))
            if taken is None:
                raise
            return taken
        return None


def _constraint_name(exc: IntegrityError) -> str:
    """The violated constraint's name, from the driver's error (asyncpg's, behind SQLAlchemy's adapter)."""
    driver_error = exc.orig.__cause__ if exc.orig is not None else None
    return str(getattr(driver_error, "constraint_name", None) or "")
