"""The journal, read: every change a run applied or held and every act journalled by hand (audit entries,
with their actor and no run), filterable, and a pupil's timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolReader
from app.errors import NotAuthenticated, PupilNotFound, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.pupils.service import get_pupil
from app.sync.journal.repository import ChangeFilter, ChangeRepository
from app.sync.journal.schemas import JournalEntry

router = APIRouter(prefix="/schools/{school_id}", tags=["journal"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.get("/changes", response_model=Page[JournalEntry], responses=error_responses(NotAuthenticated, SchoolNotFound))
async def list_changes(
    school_id: str,
    _: SchoolReader,
    session: Session,
    page: Pagination,
    run_id: Annotated[uuid.UUID | None, Query()] = None,
    pupil_id: Annotated[uuid.UUID | None, Query()] = None,
    band_id: Annotated[uuid.UUID | None, Query()] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=32,
            description="e.g. rename_pupil, archive_pupil; or an audit action: reset_password, download_login_details",
        ),
    ] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> Page[JournalEntry]:
    """The journal, newest first, filtered by run, pupil, band, kind of change or time: what runs changed,
    and what people did by hand (audit entries: no run, and the actor who did it)."""
    where = ChangeFilter(run_id, pupil_id, band_id, action, since, until)
    items, total = await ChangeRepository(session, school_id).page(where, page)
    return page_of(JournalEntry, items, total, page)


@router.get(
    "/pupils/{pupil_id}/timeline",
    response_model=list[JournalEntry],
    responses=error_responses(NotAuthenticated, PupilNotFound),
)
async def pupil_timeline(school_id: str, pupil_id: uuid.UUID, _: SchoolReader, session: Session) -> list[Any]:
    """Everything that happened to one account, oldest first: created, linked, renamed, moved, left, returned;
    and what admins did by hand: created, renamed or edited it, gave it a new password, downloaded its login details."""
    await get_pupil(session, school_id, pupil_id)
    return await ChangeRepository(session, school_id).timeline(pupil_id)
