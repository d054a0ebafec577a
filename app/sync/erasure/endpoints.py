"""Erasure on request: an admin anonymises one child's account now."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import Forbidden, NotAuthenticated, PupilNotFound, error_responses
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.models import Pupil
from app.sync.erasure.schemas import Erased
from app.sync.erasure.service import erase_pupil
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["pupils"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.post(
    "/pupils/{pupil_id}/erase",
    response_model=Erased,
    responses=error_responses(NotAuthenticated, Forbidden, PupilNotFound, SyncAlreadyRunning),
)
async def erase(
    school_id: str, pupil_id: uuid.UUID, principal: SchoolAdmin, session: Session, request: Request
) -> Erased:
    """Erase a child on request, now: the account is anonymised (names replaced, passwords cleared,
    memberships ended; the username kept and unusable), the child's names are taken out of the journal,
    waiting passwords and the MIS mirror, and their Wonde student id goes on the school's erased list,
    so that no later sync makes them an account again. It cannot be undone. 409 while a sync, merge or
    undo of the school runs."""
    box = SecretBox(request.app.state.settings.encryption_key)
    run, wonde_id = await erase_pupil(session, school_id, pupil_id, principal.subject, box)
    pupil = await session.get(Pupil, pupil_id)
    assert pupil is not None
    return Erased.model_validate({"pupil": pupil, "run_id": run.id, "erased_wonde_id": wonde_id}, from_attributes=True)
