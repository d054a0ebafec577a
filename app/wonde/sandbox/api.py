"""The Wonde API routes (``/v1.0``) and the sandbox app that serves them with the admin routes.

Answers use Wonde's shapes (see docs/wonde-api.md §3) and its list conventions (``listing.py``);
every request first passes the gate (``gate.py``), which counts it and applies fault rules.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from app.wonde.sandbox.admin import router as admin_router
from app.wonde.sandbox.deps import Sandbox, sandbox_state
from app.wonde.sandbox.errors import install_error_handlers
from app.wonde.sandbox.gate import ROSTERS_UNDATED, ApiGate, error_response
from app.wonde.sandbox.includes import CLASS_INCLUDES, GROUP_INCLUDES, STUDENT_INCLUDES, group, include_tree, mis_class
from app.wonde.sandbox.includes import student as student_body
from app.wonde.sandbox.links import region
from app.wonde.sandbox.listing import BadQuery, ListQuery, list_query, paginate
from app.wonde.sandbox.paths import TrailingSlashes
from app.wonde.sandbox.records import SandboxSchool
from app.wonde.sandbox.shapes import deletion_json, school_json
from app.wonde.sandbox.state import SandboxState, UnknownSchool

router = APIRouter(prefix="/v1.0", tags=["wonde"])


class WondeRefusal(Exception):
    """A request Wonde would refuse: unknown school (404) or a token that does not open it (401)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization: Bearer <token>``, or from HTTP Basic with the token as user name."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def authorised_school(request: Request, school_id: str) -> SandboxSchool:
    """The school, if the token opens it. The token is checked first: one that opens no school gets
    the same 401 whether the school exists or not; a good token asking for an unknown school gets 404."""
    state, token = sandbox_state(request), bearer_token(request)
    denied = WondeRefusal(401, "access_denied", "The access token is missing, invalid or revoked for this school.")
    if not state.opens_any(token):
        raise denied
    try:
        school = state.school(school_id)
    except UnknownSchool:
        raise WondeRefusal(404, "not_found", f"School {school_id} was not found.") from None
    if not state.authorised(school_id, token):
        raise denied
    return school


def school_for_meta(request: Request, school_id: str) -> SandboxSchool:
    """The school whose meta is asked for. Meta also answers the school's own token after access was
    revoked (its ``approved`` then says false, as Wonde's can) and the app's token whatever the access;
    anyone else is refused as for the school's data."""
    state, token = sandbox_state(request), bearer_token(request)
    school = state.schools.get(school_id)
    if school is not None and token is not None and (state.is_app_token(token) or state.holds_own_token(school, token)):
        return school
    return authorised_school(request, school_id)


def school_to_revoke(request: Request, school_id: str) -> SandboxSchool:
    """The school to revoke: as for its data, or, with the app's token, a school still pending (an app
    may withdraw a request as Wonde documents revoke-access working on an approved or a pending school)."""
    state, token = sandbox_state(request), bearer_token(request)
    school = state.schools.get(school_id)
    if school is not None and school.access == "pending" and state.is_app_token(token):
        return school
    return authorised_school(request, school_id)


School = Annotated[SandboxSchool, Depends(authorised_school)]
MetaSchool = Annotated[SandboxSchool, Depends(school_for_meta)]
RevocableSchool = Annotated[SandboxSchool, Depends(school_to_revoke)]
Listing = Annotated[ListQuery, Depends(list_query)]


def _list(data: list[dict[str, Any]], pagination: dict[str, Any] | None, includes: Iterable[str]) -> JSONResponse:
    """A list answer; ``meta.includes`` names every include the endpoint supports, as Wonde's does."""
    meta: dict[str, Any] = {}
    if pagination is not None:
        meta["pagination"] = pagination
    if includes:
        meta["includes"] = list(includes)
    return JSONResponse({"data": data, "meta": meta})


class _Record(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...


R = TypeVar("R", bound=_Record)


def _by_id(records: Iterable[R], query: ListQuery, changed: Callable[[R], datetime] | None = None) -> Sequence[R]:
    """Records changed inside the query's window (by ``changed``, else ``updated_at``), in id order
    (Wonde's pages are stable)."""
    when = changed or (lambda record: record.updated_at)
    return sorted((r for r in records if query.in_window(when(r))), key=lambda r: r.id)


def _roster_dates(request: Request) -> Callable[[Any], datetime] | None:
    """Under the ``rosters_undated`` fault, a class or group counts as changed only when it was made (or
    restored): the sandbox changes nothing else about one afterwards but who is in it and who teaches it."""
    if not getattr(request.state, ROSTERS_UNDATED, False):
        return None
    return lambda record: max(record.created_at, getattr(record, "restored_at", None) or record.created_at)


@router.get("/schools/{school_id}")
async def get_school(request: Request, school: School, state: Sandbox) -> JSONResponse:
    with state.lock:
        return JSONResponse({"data": school_json(school, *region(request, state.domain))})


@router.get("/meta/schools/{school_id}")
async def get_school_meta(school: MetaSchool) -> JSONResponse:
    flags = {"online": True, "approved": school.approved, "audited": school.audited, "custom_attendance_codes": False}
    return JSONResponse({"data": flags})


@router.get("/schools/{school_id}/students")
async def list_students(request: Request, school: School, query: Listing, state: Sandbox) -> JSONResponse:
    tree = include_tree(query.includes, STUDENT_INCLUDES)
    with state.lock:
        page, pagination = paginate(request, query, _by_id(school.students.values(), query))
        data = [student_body(school, student, tree) for student in page]
    return _list(data, pagination, STUDENT_INCLUDES)


@router.get("/schools/{school_id}/students/{student_id}")
async def get_student(school: School, student_id: str, query: Listing, state: Sandbox) -> JSONResponse:
    """One student (404 once they left or while they are excluded), with the includes asked for."""
    tree = include_tree(query.includes, STUDENT_INCLUDES)
    with state.lock:
        record = school.students.get(student_id)
        if record is None:
            raise WondeRefusal(404, "not_found", f"Student {student_id} was not found.")
        data = student_body(school, record, tree)
    return JSONResponse({"data": data, "meta": {"includes": list(STUDENT_INCLUDES)}})


@router.get("/schools/{school_id}/students-leaver")
async def list_leavers(request: Request, school: School, query: Listing, state: Sandbox) -> JSONResponse:
    """Students who left the school (not those on its exclude list), in id order."""
    tree = include_tree(query.includes, STUDENT_INCLUDES)
    with state.lock:
        page, pagination = paginate(request, query, _by_id(school.left.values(), query))
        data = [student_body(school, student, tree) for student in page]
    return _list(data, pagination, STUDENT_INCLUDES)


@router.get("/schools/{school_id}/classes")
async def list_classes(request: Request, school: School, query: Listing, state: Sandbox) -> JSONResponse:
    tree = include_tree(query.includes, CLASS_INCLUDES)
    with state.lock:
        page, pagination = paginate(request, query, _by_id(school.classes.values(), query, _roster_dates(request)))
        data = [mis_class(school, record, tree) for record in page]
    return _list(data, pagination, CLASS_INCLUDES)


@router.get("/schools/{school_id}/groups")
async def list_groups(
    request: Request,
    school: School,
    query: Listing,
    state: Sandbox,
    group_type: Annotated[str | None, Query(alias="type")] = None,
) -> JSONResponse:
    tree = include_tree(query.includes, GROUP_INCLUDES)
    with state.lock:
        groups = [g for g in school.groups.values() if group_type is None or g.type.upper() == group_type.upper()]
        page, pagination = paginate(request, query, _by_id(groups, query, _roster_dates(request)))
        data = [group(school, record, tree) for record in page]
    return _list(data, pagination, GROUP_INCLUDES)


@router.get("/schools/{school_id}/deletions")
async def list_deletions(
    request: Request,
    school: School,
    query: Listing,
    state: Sandbox,
    deletion_type: Annotated[str | None, Query(alias="type")] = None,
) -> JSONResponse:
    """Deletion rows; ``updated_after`` filters on when the row last changed (deleted or restored)."""
    with state.lock:
        rows = [
            row
            for row in school.deletions.values()
            if (deletion_type is None or row.type == deletion_type.lower()) and query.in_window(row.changed_at)
        ]
        rows.sort(key=lambda row: (row.id, row.type))
        page, pagination = paginate(request, query, rows, key=lambda row: (row.id, row.type))
        data = [deletion_json(row) for row in page]
    return _list(data, pagination, ())


@router.delete("/schools/{school_id}/revoke-access")
async def revoke_access(school: RevocableSchool, state: Sandbox) -> JSONResponse:
    state.revoke(school.id)
    return JSONResponse({"success": True, "state": "revoked", "message": f"Access to school {school.id} revoked."})


def create_sandbox_app(state: SandboxState | None = None) -> FastAPI:
    """The sandbox: Wonde's API under ``/v1.0`` and the admin interface under ``/admin``, over ``state``."""
    # Imported here: these routers build on this module's dependencies.
    from app.wonde.sandbox.api_more import router as more_router
    from app.wonde.sandbox.app_api import admin_router as app_admin_router
    from app.wonde.sandbox.app_api import router as app_router

    app = FastAPI(title="Wonde sandbox", description=__doc__)
    app.state.sandbox = state or SandboxState()
    app.include_router(app_router)  # first: /schools/pending must not be taken for a school id
    app.include_router(router)
    app.include_router(more_router)
    app.include_router(admin_router)
    app.include_router(app_admin_router)
    app.add_middleware(ApiGate, state=app.state.sandbox)
    app.add_middleware(TrailingSlashes)
    install_error_handlers(app)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WondeRefusal)
        return error_response(exc.status, exc.error, exc.description)

    async def bad_query(_: Request, exc: Exception) -> JSONResponse:
        return error_response(422, "invalid_parameter", str(exc))

    app.add_exception_handler(WondeRefusal, refused)
    app.add_exception_handler(BadQuery, bad_query)
    return app
