from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin, SchoolReader
from app.errors import BandNotFound, Forbidden, NotAuthenticated, PupilNotFound, SchoolNotFound, error_responses
from app.kit.no_store import no_store
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.pupils import credentials, service
from app.pupils.schemas import Pupil, PupilCreate, PupilUpdate

router = APIRouter(prefix="/schools/{school_id}/pupils", tags=["pupils"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.get("", response_model=Page[Pupil], responses=error_responses(NotAuthenticated, SchoolNotFound))
async def list_pupils(
    school_id: str,
    _: SchoolReader,
    session: Session,
    page: Pagination,
    band_id: Annotated[uuid.UUID | None, Query(description="only the pupils of this band")] = None,
    include_archived: Annotated[bool, Query(description="include leavers")] = False,
) -> Page[Pupil]:
    pupils, total = await service.list_pupils(
        session, school_id, page, band_id=band_id, include_archived=include_archived
    )
    return page_of(Pupil, pupils, total, page)


@router.post(
    "",
    response_model=Pupil,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotAuthenticated, Forbidden, BandNotFound, service.ExternalIdTaken),
)
async def create_pupil(school_id: str, data: PupilCreate, principal: SchoolAdmin, session: Session) -> object:
    return await service.create_pupil(session, school_id, data, principal.subject)


@router.get("/{pupil_id}", response_model=Pupil, responses=error_responses(NotAuthenticated, PupilNotFound))
async def get_pupil(school_id: str, pupil_id: uuid.UUID, _: SchoolReader, session: Session) -> object:
    return await service.get_pupil(session, school_id, pupil_id)


@router.patch(
    "/{pupil_id}",
    response_model=Pupil,
    responses=error_responses(NotAuthenticated, Forbidden, PupilNotFound, service.ExternalIdTaken),
)
async def update_pupil(
    school_id: str, pupil_id: uuid.UUID, data: PupilUpdate, principal: SchoolAdmin, session: Session
) -> object:
    return await service.update_pupil(session, school_id, pupil_id, data, principal.subject)


class NewPassword(BaseModel):
    username: str
    password: str = Field(description="Shown once: it is stored only as a hash.")


@router.post(
    "/{pupil_id}/password",
    response_model=NewPassword,
    responses=error_responses(NotAuthenticated, Forbidden, PupilNotFound),
)
async def reset_password(
    school_id: str, pupil_id: uuid.UUID, principal: SchoolAdmin, session: Session, response: Response
) -> NewPassword:
    """Give the pupil a new child-friendly password (the old one stops working). Journalled with who asked,
    never with the password; the response is never cached."""
    pupil = await service.get_pupil(session, school_id, pupil_id)
    password = await credentials.reset_password(session, school_id, pupil, principal.subject)
    no_store(response)
    return NewPassword(username=pupil.username, password=password)
