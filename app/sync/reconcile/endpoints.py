from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin, SchoolReader
from app.errors import Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.schools.service import get_school
from app.sync.journal.entries import nonzero_counts
from app.sync.reconcile import held, service
from app.sync.runs.schemas import Run
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["sync"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
# Journal ids are bigint: a larger number is a 422, not a database error.
ChangeId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class SyncPreview(BaseModel):
    summary: str
    apply: dict[str, int]
    held: dict[str, int]
    held_reasons: list[str]


class HeldChange(BaseModel):
    id: int
    entity_type: str
    entity_id: str
    change: dict[str, Any]
    reason: str
    status: str
    created_at: datetime


def _held(row: Any) -> HeldChange:
    after = row.after or {}
    return HeldChange(
        id=row.id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        change=after.get("change", {}),
        reason=after.get("reason", ""),
        status=row.status,
        created_at=row.created_at,
    )


def _sentence(counts: dict[str, int]) -> str:
    words = {
        "pupils_created": "joiner",
        "pupils_renamed": "name change",
        "year_changes": "year change",
        "memberships_added": "class move in",
        "memberships_removed": "class move out",
        "leavers": "leaver",
        "returners": "returner",
        "bands_renamed": "band renamed",
        "classes_vanished": "class vanished",
    }
    parts = [f"{n} {words.get(k, k)}{'' if n == 1 else 's'}" for k, n in counts.items() if n]
    return ", ".join(parts) or "nothing to change"


@router.post(
    "/sync",
    response_model=Run,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(NotAuthenticated, Forbidden, service.NotSyncing, SyncAlreadyRunning),
)
async def sync_now(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """ "Sync now": read the school from Wonde and bring the app in step; follow it at GET /runs/{run_id}."""
    return await service.start_sync(session, school_id, trigger="manual", actor=principal.subject)


@router.get("/sync/preview", response_model=SyncPreview, responses=error_responses(NotAuthenticated, SchoolNotFound))
async def sync_preview(school_id: str, _: SchoolReader, session: Session) -> SyncPreview:
    """What a sync would do now from the last read of the MIS: what applies at once and what would be held."""
    school = await get_school(session, school_id)
    decision = (await service.plan_for(session, school))[1]
    apply = nonzero_counts(decision.apply)
    held = nonzero_counts(h.change for h in decision.held)
    return SyncPreview(
        summary=_sentence(apply | held), apply=apply, held=held, held_reasons=sorted({h.reason for h in decision.held})
    )


@router.get(
    "/held-changes", response_model=list[HeldChange], responses=error_responses(NotAuthenticated, SchoolNotFound)
)
async def list_held(school_id: str, _: SchoolReader, session: Session) -> list[HeldChange]:
    """Changes a sync held for an admin (mass removals, vanished classes)."""
    return [_held(row) for row in await held.held_changes(session, school_id)]


def _decider(approve: bool) -> Any:
    async def decide(
        school_id: str, change_id: ChangeId, request: Request, principal: SchoolAdmin, session: Session
    ) -> HeldChange:
        box = SecretBox(request.app.state.settings.encryption_key)
        [row] = await held.decide_held(session, school_id, change_id, approve=approve, actor=principal.subject, box=box)
        return _held(row)

    return decide


def _decider_all(approve: bool) -> Any:
    async def decide_all(
        school_id: str, request: Request, principal: SchoolAdmin, session: Session
    ) -> list[HeldChange]:
        box = SecretBox(request.app.state.settings.encryption_key)
        rows = await held.decide_held(session, school_id, None, approve=approve, actor=principal.subject, box=box)
        return [_held(row) for row in rows]

    return decide_all


async def _accept(
    school_id: str, change_id: ChangeId, request: Request, principal: SchoolAdmin, session: Session
) -> HeldChange:
    """Follow the suggested new MIS class instead of unlinking the band (after a new school year)."""
    box = SecretBox(request.app.state.settings.encryption_key)
    return _held(await held.accept_suggestion(session, school_id, change_id, actor=principal.subject, box=box))


_ERRORS = error_responses(NotAuthenticated, Forbidden, held.HeldChangeNotFound, held.ChangeAlreadyDecided)
router.add_api_route(
    "/held-changes/{change_id}/approve",
    _decider(True),
    methods=["POST"],
    response_model=HeldChange,
    responses=_ERRORS,
    summary="Approve a held change",
)
router.add_api_route(
    "/held-changes/{change_id}/reject",
    _decider(False),
    methods=["POST"],
    response_model=HeldChange,
    responses=_ERRORS,
    summary="Reject a held change",
)
router.add_api_route(
    "/held-changes/approve-all",
    _decider_all(True),
    methods=["POST"],
    response_model=list[HeldChange],
    responses=_ERRORS,
    summary="Approve every held change",
)
router.add_api_route(
    "/held-changes/reject-all",
    _decider_all(False),
    methods=["POST"],
    response_model=list[HeldChange],
    responses=_ERRORS,
    summary="Reject every held change",
)
router.add_api_route(
    "/held-changes/{change_id}/accept-suggestion",
    _accept,
    methods=["POST"],
    response_model=HeldChange,
    responses=_ERRORS | error_responses(held.NoSuggestion),
    summary="Follow the suggested class instead",
)
