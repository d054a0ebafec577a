from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import CurrentPrincipal, SchoolAdmin, SchoolReader, require_school
from app.errors import Forbidden, NotAuthenticated, SchoolAlreadyExists, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.schools import service
from app.schools.schemas import School, SchoolCreate, SchoolUpdate

router = APIRouter(prefix="/schools", tags=["schools"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.post(
    "",
    response_model=School,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound, SchoolAlreadyExists),
)
async def create_school(data: SchoolCreate, principal: CurrentPrincipal, session: Session) -> object:
    """Register a school; the caller must be an admin of it (its id in their token)."""
    require_school(principal, data.id, admin=True)
    return await service.create_school(session, data)


@router.get("", response_model=Page[School], responses=error_responses(NotAuthenticated))
async def list_schools(principal: CurrentPrincipal, session: Session, page: Pagination) -> Page[School]:
    schools, total = await service.list_schools(session, principal, page)
    return page_of(School, schools, total, page)


@router.get("/{school_id}", response_model=School, responses=error_responses(NotAuthenticated, SchoolNotFound))
async def get_school(school_id: str, _: SchoolReader, session: Session) -> object:
    return await service.get_school(session, school_id)


@router.patch(
    "/{school_id}", response_model=School, responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound)
)
async def update_school(school_id: str, data: SchoolUpdate, _: SchoolAdmin, session: Session) -> object:
    """The school's settings: name, time zone (the nightly sync runs in its early morning), how long
    leavers stay restorable, and when removals are held for an admin."""
    return await service.update_school(session, school_id, data)
