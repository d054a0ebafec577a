"""Held changes: journal rows with status "held" carrying the change itself, so an admin's approval applies exactly
what was shown and a rejection leaves the pupils as they were."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.kit.crypto import SecretBox
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.models import ChangeRow, ChangeStatus, Entity, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.apply import apply_plan
from app.sync.core import changes as kinds
from app.sync.core.changes import CHANGE_TYPES, Plan
from app.sync.core.reconcile_plan import ReconcileState
from app.sync.journal.entries import Action, Entry, Subject, nonzero_counts
from app.sync.journal.repository import ChangeRepository
from app.sync.journal.writer import record
from app.sync.reconcile.schemas import HeldChange
from app.sync.runs import service as runs
from app.sync.state.reconcile import reconcile_input


class ChangeAlreadyDecided(Conflict):
    """This change was already applied or rejected."""


class HeldChangeNotFound(NotFound):
    """No held change with this id in the school."""


def _held_entry(school_id: str, change: kinds.Change, reason: str) -> Entry:
    """A held change in the journal, carrying the change itself (and its pupil or band, for the timeline)."""
    pupil = getattr(change, "pupil", None)
    band = getattr(change, "band", None)
    about = Subject(
        Entity.PUPIL if pupil else Entity.BAND,
        pupil or band or school_id,
        pupil_id=uuid.UUID(pupil) if pupil and not pupil.startswith(kinds.NEW) else None,
        band_id=uuid.UUID(band) if band and not band.startswith(kinds.NEW) else None,
    )
    after = {"change": _serialise(change), "reason": reason}
    return about.entry(Action.HELD, None, after, status=ChangeStatus.HELD)


def view(row: ChangeRow) -> HeldChange:
    """A held change as the admin sees it."""
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


def _canonical(change: Any) -> str:
    return json.dumps(change, sort_keys=True)


def _serialise(change: kinds.Change) -> dict[str, Any]:
    return {"type": type(change).__name__, **dataclasses.asdict(change)}


def deserialise(data: dict[str, Any]) -> kinds.Change:
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "type"}
    return CHANGE_TYPES[data["type"]](**fields)


async def _decision_run(session: AsyncSession, school_id: str, actor: str) -> SyncRun:
    """The run an admin's decision on held changes is journalled under."""
    now = utc_now()
    run = runs.new_run(school_id, RunKind.RECONCILE, RunTrigger.MANUAL, actor)
    runs.start(run, now)
    runs.succeed(run, now=now)
    session.add(run)
    await session.flush()
    return run


def still_applies(change: kinds.Change, state: ReconcileState) -> bool:
    """Whether a held change still makes sense now: a later run (or the MIS) may have done it already."""
    if isinstance(change, kinds.CreatePupil | kinds.LinkPupil):
        return all(p.student != change.student for p in state.pupils.values())
    if isinstance(change, kinds.AddToBand):
        return change.pupil.startswith(kinds.NEW) or change.pupil not in state.band_members.get(
            change.band, frozenset()
        )
    if isinstance(change, kinds.RemoveFromBand):
        return change.pupil in state.band_members.get(change.band, frozenset())
    if isinstance(change, kinds.UnlinkBand):
        return state.synced.get(change.band) == change.container
    if isinstance(change, kinds.ArchivePupil):
        return change.pupil in state.pupils and not state.pupils[change.pupil].archived
    return True


async def listing(session: AsyncSession, school_id: str) -> list[HeldChange]:
    """The changes waiting for an admin, oldest first."""
    return [view(row) for row in await ChangeRepository(session, school_id).held()]


async def decide_held(
    session: AsyncSession, school_id: str, change_id: int | None, *, approve: bool, actor: str, box: SecretBox
) -> list[ChangeRow]:
    """Approve (apply exactly what was held) or reject (leave it) one held change, or all of them."""
    await lock_school(session, school_id)
    rows = await ChangeRepository(session, school_id).held_to_decide(change_id)
    if change_id is not None and not rows:
        raise HeldChangeNotFound()
    if change_id is not None and rows[0].status != ChangeStatus.HELD:
        raise ChangeAlreadyDecided()
    waiting = [r for r in rows if r.status == ChangeStatus.HELD]
    now = utc_now()
    if approve and waiting:
        loaded = await reconcile_input(session, school_id)
        state, lookup = loaded.state, loaded.lookup
        approval = await _decision_run(session, school_id, actor)
        held = [deserialise((r.after or {})["change"]) for r in waiting]
        kept = [c for c in held if still_applies(c, state)]
        created = {c.ref for c in kept if isinstance(c, kinds.CreatePupil)}
        plan = Plan(
            [
                c
                for c in kept
                if not (isinstance(c, kinds.AddToBand) and c.pupil.startswith(kinds.NEW) and c.pupil not in created)
            ]
        )
        await apply_plan(session, school_id, approval.id, actor, plan, lookup, box)
        approval.counts = nonzero_counts(plan.changes)
    for row in waiting:
        row.status = ChangeStatus.APPLIED if approve else ChangeStatus.REJECTED
        row.decided_at, row.actor = now, actor
    await session.flush()
    return waiting


class NoSuggestion(Conflict):
    """This held change has no suggested class to follow instead."""


async def accept_suggestion(
    session: AsyncSession, school_id: str, change_id: int, *, actor: str, box: SecretBox
) -> ChangeRow:
    """For a band whose class vanished (a new school year): follow the suggested new class instead."""
    await lock_school(session, school_id)
    rows = await ChangeRepository(session, school_id).held_to_decide(change_id)
    if not rows:
        raise HeldChangeNotFound()
    row = rows[0]
    if row.status != ChangeStatus.HELD:
        raise ChangeAlreadyDecided()
    change = deserialise((row.after or {})["change"])
    if not isinstance(change, kinds.UnlinkBand) or change.suggestion is None:
        raise NoSuggestion()
    now = utc_now()
    loaded = await reconcile_input(session, school_id)
    state, lookup = loaded.state, loaded.lookup
    if change.suggestion in state.synced.values():
        raise NoSuggestion("The suggested class is already followed by another band.")
    run = await _decision_run(session, school_id, actor)
    plan = Plan([kinds.LinkBand(change.band, change.suggestion)])
    await apply_plan(session, school_id, run.id, actor, plan, lookup, box)
    run.counts = nonzero_counts(plan.changes)
    row.status, row.decided_at, row.actor = ChangeStatus.APPLIED, now, actor
    await session.flush()
    return row


async def hold(session: AsyncSession, school_id: str, run: SyncRun, held: Sequence[tuple[kinds.Change, str]]) -> None:
    """Journal changes for the admin to decide, each with its reason; a change still waiting from an
    earlier night is not held a second time."""
    waiting = {_canonical((row.after or {}).get("change")) for row in await ChangeRepository(session, school_id).held()}
    fresh = [(c, reason) for c, reason in held if _canonical(_serialise(c)) not in waiting]
    await record(session, school_id, run.id, run.actor, [_held_entry(school_id, c, reason) for c, reason in fresh])
