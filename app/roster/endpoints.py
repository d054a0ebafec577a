from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import (
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    SchoolNotFound,
    UnsupportedMediaType,
    error_responses,
)
from app.kit.body import read_limited_body
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.roster import service
from app.roster.parser import RosterInvalid, parse_roster
from app.roster.service import ImportSummary

router = APIRouter(prefix="/schools/{school_id}/roster", tags=["roster"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class InvalidRoster(InvalidInput):
    """The roster file has problems; nothing was imported."""


_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The roster CSV: header `pupil_id,first_name,last_name,band,year_group`, UTF-8.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.post(
    "",
    response_model=ImportSummary,
    openapi_extra=_CSV_BODY,
    responses=error_responses(
        NotAuthenticated, Forbidden, SchoolNotFound, PayloadTooLarge, UnsupportedMediaType, InvalidRoster
    ),
)
async def import_roster(school_id: str, request: Request, principal: SchoolAdmin, session: Session) -> ImportSummary:
    """Import the app's existing bands and pupils from a roster CSV, all or nothing.

    A file with any bad line is refused with 422 listing every bad line and column; nothing is
    written. Importing the same file again changes nothing. Each import is journalled with who made it.
    """
    content_type = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        raise UnsupportedMediaType(f"Send the roster as text/csv, not {content_type}.")
    body = await read_limited_body(request, request.app.state.settings.max_upload_bytes)
    try:
        return await service.import_roster(session, school_id, parse_roster(body), principal.subject)
    except RosterInvalid as exc:
        detail = [{"line": e.line, "column": e.column, "message": e.message} for e in exc.errors]
        if exc.total > len(exc.errors):
            detail.append({"line": None, "column": None, "message": f"and {exc.total - len(exc.errors)} more problems"})
        raise InvalidRoster(detail) from exc
