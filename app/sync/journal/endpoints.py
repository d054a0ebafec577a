"""The journal, read: every change a run applied or held, filterable, and a pupil's timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolReader
from app.errors import NotAuthenticated, PupilNotFound, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.repository import SchoolScoped, paginate
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.models import ChangeRow
from app.pupils.service import get_pupil

router = APIRouter(prefix="/schools/{school_id}", tags=["journal"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


class JournalEntry(BaseModel):
    id: int
    run_id: uuid.UUID
    entity_type: str
    entity_id: str
    pupil_id: uuid.UUID | None
    band_id: uuid.UUID | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    status: str
    actor: str | None
    created_at: datetime

    model_config = {"from_attributes": True}


class ChangeRepository(SchoolScoped[ChangeRow]):
    model = ChangeRow


@router.get("/changes", response_model=Page[JournalEntry], responses=error_responses(NotAuthenticated, SchoolNotFound))
async def list_changes(
    school_id: str,
    _: SchoolReader,
    session: Session,
    page: Pagination,
    run_id: Annotated[uuid.UUID | None, Query()] = None,
    pupil_id: Annotated[uuid.UUID | None, Query()] = None,
    band_id: Annotated[uuid.UUID | None, Query()] = None,
    action: Annotated[str | None, Query(max_length=32, description="e.g. rename_pupil, archive_pupil")] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> Page[JournalEntry]:
    """The journal, newest first, filtered by run, pupil, band, kind of change or time."""
    statement = ChangeRepository(session, school_id).for_school().order_by(ChangeRow.id.desc())
    for column, value in (
        (ChangeRow.run_id, run_id),
        (ChangeRow.pupil_id, pupil_id),
        (ChangeRow.band_id, band_id),
        (ChangeRow.action, action),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(ChangeRow.created_at >= since)
    if until is not None:
        statement = statement.where(ChangeRow.created_at < until)
    items, total = await paginate(session, statement, page)
    return page_of(JournalEntry, items, total, page)


@router.get(
    "/pupils/{pupil_id}/timeline",
    response_model=list[JournalEntry],
    responses=error_responses(NotAuthenticated, PupilNotFound),
)
async def pupil_timeline(school_id: str, pupil_id: uuid.UUID, _: SchoolReader, session: Session) -> list[Any]:
    """Everything that happened to one account, oldest first: created, linked, renamed, moved, left, returned."""
    await get_pupil(session, school_id, pupil_id)
    rows = await session.scalars(
        select(ChangeRow).where(ChangeRow.school_id == school_id, ChangeRow.pupil_id == pupil_id).order_by(ChangeRow.id)
    )
    return list(rows)
