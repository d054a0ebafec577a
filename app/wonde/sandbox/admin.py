"""The sandbox's admin interface (``/admin``, JSON): schools, MIS events, faults, clock, stats, webhooks.

Handlers that do real work (generating, loading, events) are plain functions, so FastAPI runs them
in its thread pool and the Wonde routes keep answering meanwhile.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.wonde.sandbox.deps import Sandbox
from app.wonde.sandbox.dump import DumpInvalid, export_dump, load_dump
from app.wonde.sandbox.events import (
    EventError,
    change_year,
    close_class,
    exclude,
    include,
    joiner,
    leaver,
    move,
    new_class,
    rename,
    return_student,
)
from app.wonde.sandbox.faults import FaultRule
from app.wonde.sandbox.generate import MAX_PUPILS, Phase, generate_school
from app.wonde.sandbox.shapes import wonde_time
from app.wonde.sandbox.staff_events import staff_joiner, staff_leaver, takeover
from app.wonde.sandbox.state import SandboxState, UnknownSchool
from app.wonde.sandbox.webhook import WebhookType, deliver, webhook_payload
from app.wonde.sandbox.yearly import migration, rollover

router = APIRouter(prefix="/admin", tags=["admin"])

Json = dict[str, Any]
EventKind = Literal[
    "joiner",
    "leaver",
    "return",
    "rename",
    "move",
    "change_year",
    "new_class",
    "close_class",
    "rollover",
    "migration",
    "exclude",
    "include",
    "staff_joiner",
    "staff_leaver",
    "takeover",
]
EVENTS: dict[str, Callable[..., Json]] = {
    "joiner": joiner,
    "leaver": leaver,
    "return": return_student,
    "rename": rename,
    "move": move,
    "change_year": change_year,
    "new_class": new_class,
    "close_class": close_class,
    "rollover": rollover,
    "migration": migration,
    "exclude": exclude,
    "include": include,
    "staff_joiner": staff_joiner,
    "staff_leaver": staff_leaver,
    "takeover": takeover,
}


class GenerateRequest(BaseModel):
    phase: Phase = "secondary"
    pupils: int = Field(default=600, ge=1, le=MAX_PUPILS)
    seed: int = 1
    personal_details: bool = True  # the school grants its pupils' gender and dates of birth


class EventRequest(BaseModel):
    """An event and its arguments; each event takes only some of them (see ``events.py``, ``yearly.py``,
    ``staff_events.py``)."""

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    student_id: str | None = None
    year: str | int | None = None
    forename: str | None = None
    surname: str | None = None
    legal_forename: str | None = None
    legal_surname: str | None = None
    from_class_id: str | None = None
    to_class_id: str | None = None
    class_id: str | None = None
    size: int | None = Field(default=None, ge=0)
    intake: int | None = Field(default=None, ge=0)
    to_mis: str | None = None
    employee_id: str | None = None


class ClockRequest(BaseModel):
    advance_seconds: float


class WebhookRequest(BaseModel):
    url: str
    payload_type: WebhookType


def apply_event(state: SandboxState, school_id: str, kind: str, args: Json) -> Json:
    """Run an event by name, refusing arguments that event does not take."""
    event = EVENTS[kind]
    accepted = set(inspect.signature(event).parameters) - {"state", "school_id"}
    if extra := sorted(set(args) - accepted):
        raise EventError(f"{kind} does not take {', '.join(extra)}; it takes {', '.join(sorted(accepted))}")
    return event(state, school_id, **args)


def _missing(school_id: str) -> HTTPException:
    return HTTPException(404, f"no school {school_id!r} in the sandbox")


@router.post("/schools/generate")
def generate(body: GenerateRequest, state: Sandbox) -> Json:
    school_id = load_dump(state, generate_school(body.phase, body.pupils, body.seed, body.personal_details))
    school = state.school(school_id)
    return {"school_id": school_id, "token": school.token, "urn": school.urn, "name": school.info.get("name")}


@router.post("/schools/load")
def load(dump: Annotated[Json, Body()], state: Sandbox) -> Json:
    try:
        school_id = load_dump(state, dump)
    except DumpInvalid as exc:
        raise HTTPException(422, str(exc)) from exc
    school = state.school(school_id)
    return {"school_id": school_id, "token": school.token, "urn": school.urn}


@router.get("/schools")
def list_schools(state: Sandbox) -> list[Json]:
    with state.lock:
        return [
            {
                "school_id": school.id,
                "name": school.info.get("name"),
                "urn": school.urn,
                "token": school.token,
                "approved": school.approved,
                "students": len(school.students),
                "classes": len(school.classes),
                "groups": len(school.groups),
                "employees": len(school.employees),
                "deletions": len(school.deletions),
            }
            for school in state.schools.values()
        ]


@router.get("/schools/{school_id}/dump")
def dump(school_id: str, state: Sandbox) -> Json:
    try:
        return export_dump(state, school_id)
    except UnknownSchool:
        raise _missing(school_id) from None


@router.post("/schools/{school_id}/events")
def event(school_id: str, body: EventRequest, state: Sandbox) -> Json:
    try:
        return apply_event(state, school_id, body.kind, body.model_dump(exclude={"kind"}, exclude_none=True))
    except UnknownSchool:
        raise _missing(school_id) from None
    except EventError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/faults")
def add_fault(rule: FaultRule, state: Sandbox) -> Json:
    return state.add_fault(rule)


@router.get("/faults")
def list_faults(state: Sandbox) -> list[Json]:
    return state.faults.rules()


@router.delete("/faults")
def clear_faults(state: Sandbox) -> Json:
    state.faults.clear()
    return {"cleared": True}


@router.post("/reset")
def reset(state: Sandbox) -> Json:
    state.reset()
    return {"reset": True}


@router.get("/stats")
def stats(state: Sandbox) -> Json:
    return state.stats()


@router.post("/clock")
def advance_clock(body: ClockRequest, state: Sandbox) -> Json:
    return {"now": wonde_time(state.clock.advance(body.advance_seconds))}


@router.post("/schools/{school_id}/webhook")
async def send_webhook(school_id: str, body: WebhookRequest, state: Sandbox) -> Json:
    """POST a Wonde webhook to ``url``; async, so the receiver may call the sandbox back while it waits."""
    try:
        payload = webhook_payload(state, school_id, body.payload_type)
    except UnknownSchool:
        raise _missing(school_id) from None
    try:
        status: int | None = await deliver(body.url, payload)
    except httpx.HTTPError as exc:
        return {"status": None, "error": f"{type(exc).__name__}: {exc}", "payload": payload}
    return {"status": status, "payload": payload}
