from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import Forbidden, NotAuthenticated, PupilNotFound, SchoolNotFound, error_responses
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.pupils import credentials
from app.pupils.login_cards import render_cards
from app.schools.service import get_school
from app.sync.onboarding import service as uploader
from app.sync.onboarding.schemas import (
    ClassDecisionIn,
    DecisionOut,
    Issues,
    LoginDetail,
    Preview,
    StudentResolutionIn,
    UploaderClass,
)
from app.sync.onboarding.service import NothingToMerge, UnresolvedIssues, start_merge
from app.sync.runs.schemas import Run
from app.sync.runs.service import RunNotFound, SyncAlreadyRunning, get_run

router = APIRouter(prefix="/schools/{school_id}", tags=["uploader"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
ADMIN_ERRORS = error_responses(NotAuthenticated, Forbidden, SchoolNotFound)


@router.get("/uploader", response_model=list[UploaderClass], responses=ADMIN_ERRORS)
async def uploader_view(school_id: str, _: SchoolAdmin, session: Session) -> list[dict[str, Any]]:
    """Every MIS class and registration group, its size, the admin's decision and the suggested band."""
    return await uploader.view(session, school_id)


@router.put(
    "/uploader/classes/{wonde_class_id}",
    response_model=DecisionOut,
    responses=error_responses(
        NotAuthenticated, Forbidden, uploader.ClassNotFound, uploader.BandAlreadyMatched, uploader.BandRequired
    ),
)
async def decide_class(
    school_id: str, wonde_class_id: str, data: ClassDecisionIn, principal: SchoolAdmin, session: Session
) -> object:
    """Match the MIS class to a band, import it as a new band, or leave it alone."""
    return await uploader.decide_class(session, school_id, wonde_class_id, data.action, data.band_id, principal.subject)


@router.get("/uploader/issues", response_model=Issues, responses=ADMIN_ERRORS)
async def uploader_issues(school_id: str, _: SchoolAdmin, session: Session) -> dict[str, Any]:
    return await uploader.issues(session, school_id)


@router.put(
    "/uploader/pupils/{wonde_student_id}",
    response_model=DecisionOut,
    responses=error_responses(
        NotAuthenticated, Forbidden, uploader.StudentNotFound, PupilNotFound, uploader.PupilAlreadyLinked
    ),
)
async def resolve_pupil(
    school_id: str, wonde_student_id: str, data: StudentResolutionIn, principal: SchoolAdmin, session: Session
) -> object:
    """Link the MIS student to an existing account, create a new one, or leave the student out."""
    return await uploader.resolve_student(
        session, school_id, wonde_student_id, data.resolution, data.pupil_id, principal.subject
    )


@router.get("/uploader/preview", response_model=Preview, responses=ADMIN_ERRORS)
async def uploader_preview(school_id: str, _: SchoolAdmin, session: Session) -> dict[str, Any]:
    """Exactly what merge would do now, with counts, and a warning per band that would lose pupils."""
    return await uploader.preview(session, school_id)


@router.post(
    "/uploader/merge",
    response_model=Run,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(NotAuthenticated, Forbidden, NothingToMerge, UnresolvedIssues, SyncAlreadyRunning),
)
async def merge(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """Queue the merge; follow it at GET /runs/{run_id}."""
    return await start_merge(session, school_id, principal.subject)


@router.get(
    "/runs/{run_id}/credentials",
    response_model=list[LoginDetail],
    responses=error_responses(NotAuthenticated, Forbidden, RunNotFound)
    | {
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "Login details: CSV (default), JSON, or printable PDF cards per band",
        }
    },
)
async def download_credentials(
    school_id: str,
    run_id: uuid.UUID,
    request: Request,
    _: SchoolAdmin,
    session: Session,
    format: Annotated[str, Query(pattern="^(csv|json|pdf)$")] = "csv",
) -> Any:
    """The login details of the accounts the run created. Downloading them clears the stored passwords:
    keep the file safe, or issue new passwords."""
    await get_run(session, school_id, run_id)
    details = await credentials.download(
        session, school_id, run_id, SecretBox(request.app.state.settings.encryption_key)
    )
    if format == "json":
        return [LoginDetail(**d.__dict__) for d in details]
    if format == "pdf":
        school = await get_school(session, school_id)
        bands = await credentials.bands_of(session, school_id, [d.pupil_id for d in details])
        grouped: dict[str, list[credentials.LoginDetails]] = {}
        for detail in details:
            grouped.setdefault(bands.get(detail.pupil_id, "No band"), []).append(detail)
        return Response(
            render_cards(school.name, grouped),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="login-cards-{run_id}.pdf"',
                "Cache-Control": "no-store",
            },
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["first_name", "last_name", "username", "password"])
    writer.writerows([d.first_name, d.last_name, d.username, d.password] for d in details)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="login-details-{run_id}.csv"',
            "Cache-Control": "no-store",
        },
    )
