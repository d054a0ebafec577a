"""Schools over HTTP. Registering a school and binding it to Wonde are the platform's acts; a school's
own settings are its admins'. Which of the two a PATCH is, is decided from the body's fields before the
body is validated, so a school's token that tries to bind learns nothing of the schema."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import PLATFORM_ONLY, CurrentPrincipal, PlatformPrincipal, Principal, open_school
from app.errors import Forbidden, NotAuthenticated, SchoolAlreadyExists, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.models.school import SchoolState
from app.schools import service
from app.schools.schemas import IDENTITY_FIELDS, School, SchoolCreate, SchoolUpdate

router = APIRouter(prefix="/schools", tags=["schools"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


async def _viewer(school_id: str, principal: CurrentPrincipal, session: Session) -> Principal:
    """The school's row is the platform's to see (it registered it) and any of its own roles'."""
    if principal.is_platform:
        await service.get_school(session, school_id)
    else:
        await open_school(session, principal, school_id, admin=False)
    return principal


async def _body_fields(request: Request) -> set[str]:
    """The top-level fields a JSON object body names (none for anything else, which validation refuses)."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return set()
    return set(body) if isinstance(body, dict) else set()


async def _editor(school_id: str, request: Request, principal: CurrentPrincipal, session: Session) -> Principal:
    """A school's identity (URN, Wonde id) is the platform's to change; its settings are its admins'."""
    fields = await _body_fields(request)
    if principal.is_platform:
        if fields - IDENTITY_FIELDS:
            raise Forbidden(
                f"A school's settings are its admins'; the platform changes only {', '.join(sorted(IDENTITY_FIELDS))}."
            )
        await service.get_school(session, school_id)
        return principal
    await open_school(session, principal, school_id, admin=True)
    if fields & IDENTITY_FIELDS:
        raise Forbidden(PLATFORM_ONLY)
    return principal


SchoolViewer = Annotated[Principal, Depends(_viewer)]
SchoolEditor = Annotated[Principal, Depends(_editor)]


@router.post(
    "",
    response_model=School,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotAuthenticated, Forbidden, SchoolAlreadyExists),
)
async def create_school(_: PlatformPrincipal, data: SchoolCreate, session: Session) -> object:
    """Register a school with its DfE URN (platform only): Wonde's approval of the school is acted on
    only when Wonde's school carries the same URN."""
    return await service.create_school(session, data)


@router.get("", response_model=Page[School], responses=error_responses(NotAuthenticated))
async def list_schools(
    principal: CurrentPrincipal,
    session: Session,
    page: Pagination,
    state: Annotated[SchoolState | None, Query(description="Only schools in this state.")] = None,
) -> Page[School]:
    """Every school for the platform (``state=needs_confirmation``: the approvals waiting for it); for
    a school's admins and teachers, the schools their token names."""
    schools, total = await service.list_schools(session, principal, page, state)
    return page_of(School, schools, total, page)


@router.get(
    "/{school_id}", response_model=School, responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound)
)
async def get_school(school_id: str, _: SchoolViewer, session: Session) -> object:
    return await service.get_school(session, school_id)


@router.patch(
    "/{school_id}",
    response_model=School,
    responses=error_responses(
        NotAuthenticated, Forbidden, SchoolNotFound, SchoolAlreadyExists, service.WondeBindingInUse
    ),
)
async def update_school(school_id: str, principal: SchoolEditor, data: SchoolUpdate, session: Session) -> object:
    """The school's settings, by its admins: name, time zone (the nightly sync runs in its early
    morning), how long leavers stay restorable, and when removals are held for an admin. Its identity,
    by the platform: URN, LA code, establishment number and Wonde id (rebinding only while the school
    holds no Wonde approval). Each change is journalled with who made it and the fields it changed."""
    return await service.update_school(session, school_id, data, principal.subject)
