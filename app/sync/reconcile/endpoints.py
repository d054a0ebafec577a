from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin, SchoolReader
from app.errors import AppError, Forbidden, NotAuthenticated, SchoolNotFound, error_responses
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.models.sync_run import RunTrigger
from app.schools.service import AwaitingConfirmation, SchoolDisconnected, SchoolNotConnected
from app.sync.reconcile import held, held_groups, service
from app.sync.reconcile.held_rows import view
from app.sync.reconcile.schemas import HeldChange, HeldDecision, HeldDecisionRequest, HeldGroup, SyncPreview
from app.sync.runs.schemas import Run
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["sync"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
# Journal ids are bigint: a larger number is a 422, not a database error.
ChangeId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/sync",
    response_model=Run,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        NotAuthenticated,
        Forbidden,
        service.NotSyncing,
        SchoolNotConnected,
        SchoolDisconnected,
        AwaitingConfirmation,
        SyncAlreadyRunning,
    ),
)
async def sync_now(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """ "Sync now": read the school from Wonde and bring the app in step; follow it at GET /runs/{run_id}.
    Refused (409) unless the school is syncing, naming why: not connected to Wonde (``SchoolNotConnected``,
    ``SchoolDisconnected``, ``AwaitingConfirmation``), or not merged yet (``NotSyncing``)."""
    return await service.start_sync(session, school_id, trigger=RunTrigger.MANUAL, actor=principal.subject)


@router.get("/sync/preview", response_model=SyncPreview, responses=error_responses(NotAuthenticated, SchoolNotFound))
async def sync_preview(school_id: str, _: SchoolReader, session: Session) -> SyncPreview:
    """What a sync would do now from the last read of the MIS: what applies at once and what would be held."""
    return await service.preview(session, school_id)


@router.get(
    "/held-changes", response_model=list[HeldChange], responses=error_responses(NotAuthenticated, SchoolNotFound)
)
async def list_held(school_id: str, _: SchoolReader, session: Session) -> list[HeldChange]:
    """Changes a sync held for an admin (mass removals, vanished classes, what an undo reverted), one row
    each; ``/held-changes/grouped`` lists them as they are decided: per pupil."""
    return await held.listing(session, school_id)


@router.get(
    "/held-changes/grouped", response_model=list[HeldGroup], responses=error_responses(NotAuthenticated, SchoolNotFound)
)
async def list_held_grouped(school_id: str, _: SchoolReader, session: Session) -> list[HeldGroup]:
    """The held changes as they are decided: one group per pupil (or per child whose account would be
    made, or per band for a band's own changes); approving or rejecting a group decides all of it."""
    return await held_groups.grouped(session, school_id)


def _decider(approve: bool) -> Any:
    async def decide(
        school_id: str, change_id: ChangeId, request: Request, principal: SchoolAdmin, session: Session
    ) -> HeldChange:
        box = SecretBox(request.app.state.settings.encryption_key)
        rows = await held.decide_held(session, school_id, change_id, approve=approve, actor=principal.subject, box=box)
        return view(next(row for row in rows if row.id == change_id))

    return decide


def _decider_all(approve: bool) -> Any:
    async def decide_all(
        school_id: str, request: Request, principal: SchoolAdmin, session: Session
    ) -> list[HeldChange]:
        box = SecretBox(request.app.state.settings.encryption_key)
        rows = await held.decide_held(session, school_id, None, approve=approve, actor=principal.subject, box=box)
        return [view(row) for row in rows]

    return decide_all


async def _decide_groups(
    school_id: str, body: HeldDecisionRequest, request: Request, principal: SchoolAdmin, session: Session
) -> HeldDecision:
    box = SecretBox(request.app.state.settings.encryption_key)
    run, rows = await held.decide_groups(
        session, school_id, approve=body.approve, reject=body.reject, actor=principal.subject, box=box
    )
    return HeldDecision(run=Run.model_validate(run), changes=[view(row) for row in rows])


async def _accept(
    school_id: str, change_id: ChangeId, request: Request, principal: SchoolAdmin, session: Session
) -> HeldChange:
    """Follow the suggested new MIS class instead of unlinking the band (after a new school year)."""
    box = SecretBox(request.app.state.settings.encryption_key)
    return view(await held.accept_suggestion(session, school_id, change_id, actor=principal.subject, box=box))


_ERRORS = error_responses(NotAuthenticated, Forbidden, held.HeldChangeNotFound, held.ChangeAlreadyDecided)
# The held-change actions: path, handler, response, summary, and errors beyond those they all share.
HELD_ACTIONS: tuple[tuple[str, Any, Any, str, tuple[type[AppError], ...]], ...] = (
    (
        "/held-changes/{change_id}/approve",
        _decider(True),
        HeldChange,
        "Approve a held change, with every other held change of its pupil (one run)",
        (),
    ),
    (
        "/held-changes/{change_id}/reject",
        _decider(False),
        HeldChange,
        "Reject a held change, with every other held change of its pupil (one run)",
        (),
    ),
    ("/held-changes/approve-all", _decider_all(True), list[HeldChange], "Approve every held change (one run)", ()),
    ("/held-changes/reject-all", _decider_all(False), list[HeldChange], "Reject every held change (one run)", ()),
    (
        "/held-changes/decide",
        _decide_groups,
        HeldDecision,
        "Approve some pupils' held changes and reject others' (groups of /held-changes/grouped), as one run",
        (held.HeldGroupNotFound,),
    ),
    (
        "/held-changes/{change_id}/accept-suggestion",
        _accept,
        HeldChange,
        "Follow the suggested class instead",
        (held.NoSuggestion,),
    ),
)
for path, handler, model, summary, errors in HELD_ACTIONS:
    router.add_api_route(
        path,
        handler,
        methods=["POST"],
        response_model=model,
        responses=_ERRORS | error_responses(*errors),
        summary=summary,
    )
