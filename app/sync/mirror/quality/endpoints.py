"""The data-quality list, read: what a school admin should fix in their MIS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolReader
from app.errors import Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.pagination import Page, Pagination, page_of
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.sync.mirror.quality.codes import IssueCode
from app.sync.mirror.quality.repository import QualityRepository
from app.sync.mirror.quality.schemas import DataQualityIssue

router = APIRouter(prefix="/schools/{school_id}", tags=["data quality"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.get(
    "/data-quality",
    response_model=Page[DataQualityIssue],
    responses=error_responses(NotAuthenticated, Forbidden, SchoolNotFound),
)
async def list_data_quality(
    school_id: str,
    _: SchoolReader,
    session: Session,
    page: Pagination,
    code: Annotated[IssueCode | None, Query(description="Only issues with this code.")] = None,
) -> Page[DataQualityIssue]:
    """What in the school's MIS data its admin should fix in the MIS, one entry per record and issue,
    from the school's current MIS mirror: a student without a UPN (``no_upn``) or a year group
    (``no_year``), a student in no class or registration group (``student_in_no_class``), two students
    with the same name in one class or registration group (``shared_name_in_class``, one entry per
    student), an MIS class with no students (``empty_class``), a record the reads set aside because it
    cannot be used (``quarantined``: the sync leaves it as it was until it is corrected) and a record
    with a value changed on its way in (``cleaned``: a control character removed, a value cut short),
    each of these two with the ``fields`` at fault. Each entry carries the record's Wonde id, its name
    where the mirror has it, and the sentence for the admin. Ordered by code, name and Wonde id.
    ``excluded`` is a known code with nothing listed yet."""
    issues, total = await QualityRepository(session, school_id).page(code, page)
    return page_of(DataQualityIssue, issues, total, page)
