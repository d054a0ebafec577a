"""Disconnecting a school, over HTTP. (Its tag stays "runs": the operation is a run, and the spec is unchanged.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.models.sync_run import RunTrigger
from app.sync.connection.service import disconnect_school
from app.sync.runs.schemas import Run
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["runs"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.post(
    "/disconnect",
    response_model=Run,
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound, SyncAlreadyRunning),
)
async def disconnect(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """Stop syncing: unlink every band and pupil (each link kept in the journal), keep every account and
    membership, and revoke access in Wonde (in the background; retried if Wonde does not answer)."""
    return await disconnect_school(session, school_id, trigger=RunTrigger.MANUAL, actor=principal.subject, revoke=True)
