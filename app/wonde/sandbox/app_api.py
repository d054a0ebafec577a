"""What the app-wide token does: list schools by access state, and ask a school for access.

Wonde's developer account token lists the schools the app can read (``/schools``), those waiting for
an answer (``/schools/pending``), approved and audited (``/audited``), declined and revoked, and
searches every school (``/schools/all``); ``POST /schools/{id}/request-access`` asks a school, which is
then pending until the school answers (here: the ``schoolApproved`` webhook or the admin ``access``
route below). A school's own token does none of this and is refused with 401. The token also reads
any approved school's data; ``state.authorised`` decides that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from app.wonde.sandbox.api import Listing, WondeRefusal, _list, bearer_token
from app.wonde.sandbox.deps import Sandbox, sandbox_state
from app.wonde.sandbox.listing import paginate
from app.wonde.sandbox.records import SandboxSchool
from app.wonde.sandbox.shapes import school_json, wonde_time
from app.wonde.sandbox.state import UnknownSchool

router = APIRouter(prefix="/v1.0", tags=["wonde"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])

Access = Literal["approved", "pending", "declined", "revoked", "none"]
LISTS: dict[str, Callable[[SandboxSchool], bool]] = {
    "": lambda school: school.approved,
    "pending": lambda school: school.access == "pending",
    "audited": lambda school: school.approved and school.audited,
    "declined": lambda school: school.access == "declined",
    "revoked": lambda school: school.access == "revoked",
    "all": lambda _: True,
}


def app_token(request: Request) -> None:
    """Refuse anything but the app-wide token (a school's token cannot list or ask for schools)."""
    if not sandbox_state(request).is_app_token(bearer_token(request)):
        raise WondeRefusal(401, "access_denied", "This call needs the app's own (account) token.")


AppToken = Annotated[None, Depends(app_token)]


class Contact(BaseModel):
    """Someone at the school who can approve the request (Wonde's optional ``contacts``)."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str | None = None
    phone_number: str | None = None
    email_address: str | None = None
    notes: str | None = None


class AccessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contacts: list[Contact] = []


def _schools(
    request: Request, state: Sandbox, query: Listing, which: str, filters: dict[str, str | None]
) -> JSONResponse:
    """A list of schools in id order, Wonde-paginated. ``updated_after`` is accepted and ignored: a
    sandbox school keeps no time of its own."""
    with state.lock:
        schools = [
            school
            for school in sorted(state.schools.values(), key=lambda s: s.id)
            if LISTS[which](school) and _matches(school, filters)
        ]
        page, pagination = paginate(request, query, schools)
        data = [school_json(school, state.domain) for school in page]
    return _list(data, pagination, ())


def _matches(school: SandboxSchool, filters: dict[str, str | None]) -> bool:
    """Exact matches, but a postcode filter matches the start of the postcode ("CB21" finds "CB21 4AB")."""
    for key, wanted in filters.items():
        if wanted is None:
            continue
        value = (
            (school.info.get("address") or {}).get("address_postcode") if key == "postcode" else school.info.get(key)
        )
        have, want = _plain(value), _plain(wanted)
        if not (have.startswith(want) if key == "postcode" else have == want):
            return False
    return True


def _plain(value: Any) -> str:
    return "" if value is None else str(value).replace(" ", "").upper()


def _list_route(which: str) -> Callable[..., Any]:
    async def schools(
        request: Request,
        _: AppToken,
        state: Sandbox,
        query: Listing,
        postcode: Annotated[str | None, Query()] = None,
        la_code: Annotated[str | None, Query()] = None,
        establishment_number: Annotated[str | None, Query()] = None,
        urn: Annotated[str | None, Query()] = None,
    ) -> JSONResponse:
        filters = {"postcode": postcode, "la_code": la_code, "establishment_number": establishment_number, "urn": urn}
        return _schools(request, state, query, which, filters)

    schools.__name__ = f"list_schools_{which or 'approved'}"
    return schools


for _which in LISTS:
    router.get(f"/schools/{_which}".rstrip("/"))(_list_route(_which))


@router.post("/schools/{school_id}/request-access")
async def request_access(
    school_id: str, _: AppToken, state: Sandbox, body: Annotated[dict[str, Any] | None, Body()] = None
) -> JSONResponse:
    """Ask a school for access: it is pending until it answers; asking again changes nothing."""
    try:
        contacts = AccessRequest.model_validate(body or {}).contacts
    except ValidationError as exc:
        raise WondeRefusal(422, "invalid_parameter", f"the request body is not valid: {exc.errors()}") from None
    with state.lock:
        try:
            school = state.school(school_id)
        except UnknownSchool:
            raise WondeRefusal(404, "not_found", f"School {school_id} was not found.") from None
        if school.approved:
            return _answer(school, "The app already has access to this school.")
        if school.access != "pending":
            school.access = "pending"
        requested = {"at": wonde_time(state.clock.now()), "contacts": [c.model_dump() for c in contacts]}
        school.access_requests.append(requested)
        return _answer(school, f"Access to school {school.id} has been requested.")


def _answer(school: SandboxSchool, message: str) -> JSONResponse:
    return JSONResponse({"success": True, "state": school.access, "message": message})


class AccessChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access: Access
    audited: bool | None = None
    personal_details: bool | None = None  # grant (or withdraw) pupils' gender and dates of birth


@admin_router.get("/state")
def sandbox_overview(state: Sandbox) -> dict[str, Any]:
    """The app-wide token, where the sandbox says it is, its clock, and each school's access."""
    with state.lock:
        return {
            "app_token": state.app_token,
            "domain": state.domain,
            "now": wonde_time(state.clock.now()),
            "schools": [
                {
                    "school_id": school.id,
                    "access": school.access,
                    "audited": school.audited,
                    "access_requests": school.access_requests,
                }
                for school in state.schools.values()
            ],
        }


@admin_router.post("/schools/{school_id}/access")
def set_access(school_id: str, body: AccessChange, state: Sandbox) -> dict[str, Any]:
    """The school answers (approves, declines), revokes, or forgets the app; approval after anything
    else gives a new school token, as ``schoolApproved`` does."""
    with state.lock:
        try:
            school = state.school(school_id)
        except UnknownSchool:
            raise HTTPException(404, f"no school {school_id!r} in the sandbox") from None
        if body.access == "approved":
            state.approve(school_id)
        else:
            school.access = body.access
        if body.audited is not None:
            school.audited = body.audited
        if body.personal_details is not None:
            school.personal_details = body.personal_details
        return {
            "school_id": school.id,
            "access": school.access,
            "audited": school.audited,
            "personal_details": school.personal_details,
            "token": school.token,
        }
