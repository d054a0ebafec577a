"""Login details over HTTP: download (CSV, JSON or PDF cards; whole or one band), confirm, and reissue a
band's passwords. Admins only: they are children's passwords."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import BandNotFound, ErrorResponse, Forbidden, NotAuthenticated, error_responses
from app.kit.crypto import SecretBox
from app.kit.no_store import NO_STORE, no_store
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.pupils.credentials import LoginDetailsConfirmed
from app.pupils.login_cards import render_csv
from app.sync.login_details import service
from app.sync.login_details.schemas import LoginDetail, LoginDetailsConfirmation
from app.sync.runs.schemas import RunDetail
from app.sync.runs.service import RunNotFound

router = APIRouter(prefix="/schools/{school_id}", tags=["login details"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.get(
    "/runs/{run_id}/credentials",
    response_model=list[LoginDetail],
    responses=error_responses(NotAuthenticated, Forbidden, RunNotFound, LoginDetailsConfirmed)
    | {
        404: {"model": ErrorResponse, "description": "Run not found, or (with band_id) band not found."},
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "Login details: CSV (default), JSON, or printable PDF cards per band",
        },
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
    band_id: Annotated[uuid.UUID | None, Query(description="only the pupils of this band")] = None,
) -> Any:
    """The login details the run gave (its new accounts', or a band's reissued passwords), whole or one
    band's. Downloading clears nothing: download them in any format, as often as needed, until you confirm
    them (POST .../credentials/confirm; then 409 LoginDetailsConfirmed) or they expire after 30 days. Every
    download is journalled (who, the run, the format, the band, how many rows), and no format is ever
    cached. In the CSV (UTF-8, with a byte order mark; a class column) a cell that a spreadsheet would read
    as a formula starts with an apostrophe."""
    settings = request.app.state.settings
    box = SecretBox(settings.encryption_key)
    details = await service.login_details(
        session, school_id, run_id, box, actor=principal.subject, format=format, band_id=band_id
    )
    if format == "json":
        no_store(response)
        return details
    if format == "pdf":
        content = await service.login_cards(session, school_id, details, settings.login_url)
        media_type, name = "application/pdf", "cards"
    else:
        content, media_type, name = render_csv(details), "text/csv", "details"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="login-{name}-{run_id}.{format}"', **NO_STORE},
    )


@router.post(
    "/runs/{run_id}/credentials/confirm",
    response_model=LoginDetailsConfirmation,
    responses=error_responses(NotAuthenticated, Forbidden, RunNotFound),
)
async def confirm_credentials(
    school_id: str, run_id: uuid.UUID, principal: SchoolAdmin, session: Session
) -> LoginDetailsConfirmation:
    """You have handed out the run's login details: their passwords are cleared for good, and downloads
    of the run answer 409 LoginDetailsConfirmed. Waits for downloads under way (and they for it). Confirming
    again clears nothing. Journalled with who confirmed."""
    return await service.confirm(session, school_id, run_id, actor=principal.subject)


@router.post(
    "/bands/{band_id}/passwords",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotAuthenticated, Forbidden, BandNotFound, service.NoActivePupils),
)
async def reissue_passwords(
    school_id: str, band_id: uuid.UUID, request: Request, principal: SchoolAdmin, session: Session
) -> RunDetail:
    """Give every active pupil of the band a new password (their old ones stop working; login details
    still waiting for them are cleared). The new login details wait as the returned run's (kind
    new_passwords): download them at GET .../runs/{run_id}/credentials, then confirm them. Journalled with
    who asked, never with a password."""
    box = SecretBox(request.app.state.settings.encryption_key)
    return await service.reissue_band_passwords(session, school_id, band_id, box, actor=principal.subject)
