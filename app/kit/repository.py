"""Tenancy lives here: every school-owned query starts from ``SchoolScoped.for_school``, which
filters by ``school_id``, so no endpoint or service writes its own tenant filter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Base
from app.kit.pagination import PageParams

M = TypeVar("M", bound=Base)


class SchoolScoped(Generic[M]):
    """Queries over one school's rows of ``model`` (which has ``id`` and ``school_id`` columns)."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession, school_id: str) -> None:
        self.session = session
        self.school_id = school_id

    def for_school(self) -> Select[M]:
        return select(self.model).where(self.model.school_id == self.school_id)

    async def get(self, id_: uuid.UUID) -> M | None:
        result = await self.session.execute(self.for_school().where(self.model.id == id_))
        row: M | None = result.scalar_one_or_none()
        return row

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> list[uuid.UUID]:
        """Insert rows in bulk (batched by SQLAlchemy); returns their new ids in the order given."""
        ids = [uuid.uuid4() for _ in rows]
        if rows:
            values = [{**row, "id": id_, "school_id": self.school_id} for row, id_ in zip(rows, ids, strict=True)]
            await self.session.execute(insert(self.model), values)
        return ids


async def paginate(session: AsyncSession, statement: Select[M], page: PageParams) -> tuple[list[M], int]:
    """One page of ``statement`` and the total count, in two statements whatever the page size."""
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = await session.scalars(statement.limit(page.per_page).offset(page.offset))
    return list(rows), int(total or 0)
