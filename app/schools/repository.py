from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, select
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

    def among(self, school_ids: Collection[str]) -> Select[School]:
        return select(School).where(School.id.in_(list(school_ids))).order_by(School.name, School.id)

    async def insert(self, school: School) -> str | None:
        """Add and flush the school in a savepoint. When another transaction committed the same id or
        Wonde id first (after this one looked), nothing is added and the taken column is returned."""
        try:
            async with self.session.begin_nested():
                self.session.add(school)
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
