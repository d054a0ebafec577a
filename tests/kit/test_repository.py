"""``SchoolScoped``, where tenancy lives, and ``paginate``, over real PostgreSQL: a school's queries
see only its rows, bulk inserts land in the school in the order given, and a page comes with the total."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams
from app.kit.repository import SchoolScoped, paginate
from app.models import Band, School


class Bands(SchoolScoped[Band]):
    model = Band


async def test_a_school_sees_only_its_own_rows(session: AsyncSession, school: School, other_school: School) -> None:
    ours, theirs = Band(school_id=school.id, name="4B"), Band(school_id=other_school.id, name="4B")
    session.add_all([ours, theirs])
    await session.flush()
    bands = Bands(session, school.id)
    assert [b.id for b in await session.scalars(bands.for_school())] == [ours.id]
    assert await bands.get(ours.id) is ours
    assert await bands.get(theirs.id) is None
    assert await bands.get(uuid.uuid4()) is None


async def test_bulk_inserts_land_in_the_school_in_the_order_given(
    session: AsyncSession, school: School, other_school: School
) -> None:
    bands = Bands(session, school.id)
    assert await bands.insert_many([]) == []
    # A school_id in a row is overwritten: rows go to the repository's school, whatever they say.
    ids = await bands.insert_many([{"name": "4B"}, {"name": "4C", "school_id": other_school.id}, {"name": "5A"}])
    assert len(set(ids)) == 3
    found = {b.id: (b.school_id, b.name) for b in await session.scalars(bands.for_school())}
    assert [found[i] for i in ids] == [(school.id, "4B"), (school.id, "4C"), (school.id, "5A")]
    assert [b.id async for b in await session.stream_scalars(Bands(session, other_school.id).for_school())] == []


async def test_a_page_and_the_total_of_the_school_s_rows(
    session: AsyncSession, school: School, other_school: School
) -> None:
    bands = Bands(session, school.id)
    await bands.insert_many([{"name": f"Band {i:02d}"} for i in range(7)])
    await Bands(session, other_school.id).insert_many([{"name": "Not ours"}])
    statement = bands.for_school().order_by(Band.name)
    pages = [await paginate(session, statement, PageParams(page=n, per_page=3)) for n in (1, 2, 3, 4)]
    assert [([b.name for b in rows], total) for rows, total in pages] == [
        (["Band 00", "Band 01", "Band 02"], 7),
        (["Band 03", "Band 04", "Band 05"], 7),
        (["Band 06"], 7),
        ([], 7),
    ]
