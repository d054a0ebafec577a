from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import School


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

    def add(self, school: School) -> None:
        self.session.add(school)
