from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import Forbidden, InvalidInput, NotAuthenticated, PupilNotFound, SchoolNotFound, error_responses
from app.kit.crypto import SecretBox
from app.kit.no_store import NO_STORE, no_store
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.pupils.login_cards import render_csv
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
from app.sync.runs.service import RunNotFound, SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["uploader"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
ADMIN_ERRORS = error_responses(NotAuthenticated, Forbidden, SchoolNotFound)


@router.get("/uploader", response_model=list[UploaderClass], responses=ADMIN_ERRORS)
async def uploader_view(school_id: str, _: SchoolAdmin, session: Session) -> list[UploaderClass]:
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
async def uploader_issues(school_id: str, _: SchoolAdmin, session: Session) -> Issues:
    return await uploader.issues(session, school_id)


@router.put(
    "/uploader/pupils/{wonde_student_id}",
    response_model=DecisionOut,
    responses=error_responses(
        NotAuthenticated, Forbidden, uploader.StudentNotFound, PupilNotFound, uploader.PupilAlreadyLinked, InvalidInput
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
async def uploader_preview(school_id: str, _: SchoolAdmin, session: Session) -> Preview:
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
    response: Response,
    principal: SchoolAdmin,
    session: Session,
    format: Annotated[Literal["csv", "json", "pdf"], Query()] = "csv",
) -> Any:
    """The login details of the accounts the run created. Downloading them clears the stored passwords:
    keep the file safe, or issue new passwords. Every download is journalled (who, the run, the format,
    how many rows), and no format is ever cached. In the CSV (UTF-8, with a byte order mark) a cell
    that a spreadsheet would read as a formula starts with an apostrophe."""
    box = SecretBox(request.app.state.settings.encryption_key)
    details = await uploader.login_details(session, school_id, run_id, box, actor=principal.subject, format=format)
    if format == "json":
        no_store(response)
        return details
    if format == "pdf":
        content, media_type, name = await uploader.login_cards(session, school_id, details), "application/pdf", "cards"
    else:
        content, media_type, name = render_csv(details), "text/csv", "details"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="login-{name}-{run_id}.{format}"', **NO_STORE},
    )
