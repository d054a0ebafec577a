from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin, SchoolReader
from app.bands import service
from app.bands.schemas import Band, BandCreate, BandUpdate
from app.errors import BandNotFound, Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session

router = APIRouter(prefix="/schools/{school_id}/bands", tags=["bands"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
READ_ERRORS = error_responses(NotAuthenticated, SchoolNotFound)
WRITE_ERRORS = error_responses(NotAuthenticated, Forbidden, SchoolNotFound)


@router.get("", response_model=Page[Band], responses=READ_ERRORS)
async def list_bands(
    school_id: str,
    _: SchoolReader,
    session: Session,
    page: Pagination,
    include_archived: Annotated[bool, Query()] = False,
) -> Page[Band]:
    bands, total = await service.list_bands(session, school_id, page, include_archived=include_archived)
    return page_of(Band, bands, total, page)


@router.post("", response_model=Band, status_code=status.HTTP_201_CREATED, responses=WRITE_ERRORS)
async def create_band(school_id: str, data: BandCreate, _: SchoolAdmin, session: Session) -> object:
    return await service.create_band(session, school_id, data)


@router.get("/{band_id}", response_model=Band, responses=error_responses(NotAuthenticated, BandNotFound))
async def get_band(school_id: str, band_id: uuid.UUID, _: SchoolReader, session: Session) -> object:
    return await service.get_band(session, school_id, band_id)


@router.patch("/{band_id}", response_model=Band, responses=error_responses(NotAuthenticated, Forbidden, BandNotFound))
async def update_band(school_id: str, band_id: uuid.UUID, data: BandUpdate, _: SchoolAdmin, session: Session) -> object:
    return await service.update_band(session, school_id, band_id, data)
