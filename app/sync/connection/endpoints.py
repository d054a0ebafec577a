"""The school's connection over HTTP: disconnecting (its tag stays "runs": the operation is a run, and the
spec is unchanged), and the platform's answer to a Wonde approval that waits for its confirmation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import PlatformPrincipal, SchoolAdmin
from app.errors import Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.models.sync_run import RunTrigger
from app.schools.schemas import School
from app.schools.service import SchoolDisconnected
from app.sync.connection.service import NoApprovalWaiting, confirm_approval, disconnect_school, reject_approval
from app.sync.runs.schemas import Run
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["runs"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.post(
    "/disconnect",
    response_model=Run,
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound, SchoolDisconnected, SyncAlreadyRunning),
)
async def disconnect(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """Stop syncing: unlink every band and pupil (each link kept in the journal), keep every account and
    membership, and revoke access in Wonde (in the background; retried if Wonde does not answer). A school
    already disconnected is a 409 (``SchoolDisconnected``), not a new run."""
    return await disconnect_school(session, school_id, trigger=RunTrigger.MANUAL, actor=principal.subject, revoke=True)


@router.post(
    "/approval/confirm",
    response_model=School,
    tags=["schools"],
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound, NoApprovalWaiting),
)
async def confirm(school_id: str, principal: PlatformPrincipal, session: Session) -> object:
    """The Wonde school that approved is this school (platform only): its URN becomes the one Wonde gave,
    and the school is read (or, if it synced before, synced) from Wonde."""
    return await confirm_approval(session, school_id, principal.subject)


@router.post(
    "/approval/reject",
    response_model=School,
    tags=["schools"],
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound, NoApprovalWaiting, SyncAlreadyRunning),
)
async def reject(school_id: str, principal: PlatformPrincipal, session: Session) -> object:
    """The Wonde school that approved is not this school (platform only): its token is forgotten and the
    Wonde binding undone; a school that synced from it is disconnected, every account kept."""
    return await reject_approval(session, school_id, principal.subject)
