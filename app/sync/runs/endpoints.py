from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin, SchoolReader
from app.errors import Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.sync.journal.undo import NothingToUndo, UndoBlocked, UndoTooLate, undo_run
from app.sync.runs import service as runs
from app.sync.runs.schemas import Run, RunDetail
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["runs"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.get("/runs", response_model=Page[Run], responses=error_responses(NotAuthenticated, SchoolNotFound))
async def list_runs(school_id: str, _: SchoolReader, session: Session, page: Pagination) -> Page[Run]:
    """The school's runs, newest first."""
    items, total = await runs.list_runs(session, school_id, page)
    return page_of(Run, items, total, page)


@router.get("/runs/{run_id}", response_model=RunDetail, responses=error_responses(NotAuthenticated, runs.RunNotFound))
async def get_run(school_id: str, run_id: uuid.UUID, _: SchoolReader, session: Session) -> RunDetail:
    """The run, and how many of its login details wait to be handed out."""
    return await runs.run_detail(session, school_id, run_id)


@router.post(
    "/ping",
    response_model=Run,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound),
)
async def ping(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """Queue a ping run for the school; a worker completes it. Shows the queue and workers are alive."""
    return await runs.start_ping(session, school_id, principal.subject)


@router.post(
    "/runs/{run_id}/undo",
    response_model=Run,
    responses=error_responses(
        NotAuthenticated, Forbidden, runs.RunNotFound, NothingToUndo, UndoBlocked, UndoTooLate, SyncAlreadyRunning
    ),
)
async def undo(school_id: str, run_id: uuid.UUID, principal: SchoolAdmin, session: Session) -> object:
    """Revert every change the run applied (a run of its own, journalled); refused where a later run
    changed the same pupils or bands, or where what it would put back is no longer kept (the journal's
    values past their retention period, a disconnected school's deleted MIS data). Accounts the run
    created are archived, never deleted."""
    return await undo_run(session, school_id, run_id, principal.subject)
