"""Undo: revert every change a run applied, newest first, as a journalled run of its own.

Refused, with the reason, when a later run changed the same thing (undo that one first), when the
run was undone already, or when what it would put back is no longer kept: an account it changed was
anonymised since, the journal's values were redacted (``redaction.py``), or the MIS records it would
link again were deleted with the mirror of a school whose consent ended. Each row is reverted as its
action's entry in ``entries.py`` says; accounts
are never deleted: an account the run created is archived and unlinked instead, and a band it created
is archived, and the passwords still waiting to be handed out for its accounts are cleared.

The syncs that follow do not silently redo what an undo reverted: the next sync holds each change it
would make again for the admin to decide (``app.sync.core.undone``); the undo's counts say how many
changes that may be (``held_at_next_sync``), and its run's ``notice`` says it in words.

Only a run's own rows are reverted: audit entries (``app/audit.py``: what a person did by hand) belong
to no run, so no undo ever reads them, and they do not block one either.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.models import ChangeStatus, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.pupils.credentials import forget_waiting
from app.sync.journal.entries import REVERTS, undoing
from app.sync.journal.errors import NothingToUndo, UndoBlocked, UndoTooLate
from app.sync.journal.redo import redone_by
from app.sync.journal.repository import ChangeRepository
from app.sync.journal.reverts import Undoing
from app.sync.journal.writer import record
from app.sync.runs import service as runs
from app.sync.runs.schemas import HELD_AT_NEXT_SYNC
from app.sync.runs.service import claim_school, get_run

__all__ = ["NothingToUndo", "UndoBlocked", "UndoTooLate", "undo_run"]


async def undo_run(session: AsyncSession, school_id: str, run_id: uuid.UUID, actor: str) -> SyncRun:
    await lock_school(session, school_id)
    await get_run(session, school_id, run_id)
    changes = ChangeRepository(session, school_id)
    applied = await changes.applied(run_id)
    if not applied:
        raise NothingToUndo()
    if any(change.redacted_at is not None for change in applied):
        raise UndoTooLate(
            "This run is older than the journal keeps the details of its changes (names, year groups), "
            "so it can no longer be undone."
        )
    if await changes.anonymised(applied):
        raise UndoTooLate("An account this run changed was anonymised since: what the run changed is gone.")
    later = await changes.later_run(run_id, applied)
    if later is not None:
        raise UndoBlocked(f"Run {later} changed some of the same pupils or bands later: undo it first.")
    if await changes.names_deleted_mis_records(applied):
        raise UndoTooLate(
            "The MIS records this run unlinked are no longer kept (a school's MIS data is deleted some time "
            "after it disconnects), so its links cannot be put back; reconnect the school to link them again."
        )
    now = utc_now()
    undo = runs.new_run(school_id, RunKind.UNDO, RunTrigger.MANUAL, actor)
    runs.start(undo, now)
    await claim_school(session, undo)
    for change in applied:
        revert = REVERTS.get(change.action)
        if revert is None:
            raise NothingToUndo(f"a {change.action} change cannot be undone")
        await revert(Undoing(session, school_id, change, utc_now(), changes))
        await session.flush()
        change.status, change.decided_at = ChangeStatus.UNDONE, now
    await forget_waiting(session, school_id, run_id)
    await record(session, school_id, undo.id, actor, [undoing(c) for c in applied])
    held_next = sum(1 for change in applied if redone_by(change))
    counts = {"undone": len(applied), "of_run": str(run_id)} | ({HELD_AT_NEXT_SYNC: held_next} if held_next else {})
    runs.succeed(undo, counts=counts)
    await session.flush()
    return undo
