from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.bands.repository import BandRepository
from app.bands.schemas import BandCreate, BandUpdate
from app.errors import BandNotFound
from app.kit.pagination import PageParams
from app.kit.repository import paginate
from app.models import Band


async def list_bands(
    session: AsyncSession, school_id: str, page: PageParams, *, include_archived: bool
) -> tuple[list[Band], int]:
    return await paginate(session, BandRepository(session, school_id).listing(include_archived=include_archived), page)


async def get_band(session: AsyncSession, school_id: str, band_id: uuid.UUID) -> Band:
    band = await BandRepository(session, school_id).get(band_id)
    if band is None:
        raise BandNotFound()
    return band


async def create_band(session: AsyncSession, school_id: str, data: BandCreate) -> Band:
    band = Band(school_id=school_id, name=data.name, year_group=data.year_group, source="app")
    session.add(band)
    await session.flush()
    await session.refresh(band)
    return band


async def update_band(session: AsyncSession, school_id: str, band_id: uuid.UUID, data: BandUpdate) -> Band:
    band = await get_band(session, school_id, band_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "name" and value is None:
            continue  # a name cannot be removed, only changed
        setattr(band, field, value)
    await session.flush()
    await session.refresh(band)
    return band
