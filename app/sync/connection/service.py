"""Disconnecting a school from Wonde: stop syncing, unlink every band and pupil, keep every account.

Links are not lost: each removal is journalled with its before, so a reconnection can offer them again
as suggestions. When the school disconnects from our side, Wonde's access is revoked by a job after
commit (a failure there is recorded and retried, never fatal); when Wonde tells us access was revoked,
the token is dropped at once, since it no longer opens anything.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.jobs import enqueue
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.models import Band, Pupil, School, SyncRun, UploaderDecision
from app.sync.journal.entries import unlinked_band, unlinked_pupil
from app.sync.journal.writer import record
from app.sync.runs.service import claim_school


async def disconnect_school(
    session: AsyncSession, school_id: str, *, trigger: str, actor: str | None, revoke: bool
) -> SyncRun:
    """Unlink the school's bands and pupils and mark it disconnected, in the caller's transaction."""
    await lock_school(session, school_id)
    school = await session.get(School, school_id, with_for_update=True)
    assert school is not None
    now = utc_now()
    # Created "running" so the one-active-run index refuses it while a merge or reconcile is under way.
    run = SyncRun(
        id=uuid.uuid4(), school_id=school_id, kind="disconnect", trigger=trigger, status="running", actor=actor
    )
    run.started_at = now
    await claim_school(session, run)

    bands = list(
        await session.scalars(
            select(Band).where(
                Band.school_id == school_id, (Band.mis_class_id.is_not(None)) | (Band.mis_group_id.is_not(None))
            )
        )
    )
    pupils = list(
        await session.scalars(select(Pupil).where(Pupil.school_id == school_id, Pupil.mis_student_id.is_not(None)))
    )
    entries = [unlinked_band(band) for band in bands] + [unlinked_pupil(pupil) for pupil in pupils]
    await record(session, school_id, run.id, actor, entries)
    await session.execute(update(Band).where(Band.school_id == school_id).values(mis_class_id=None, mis_group_id=None))
    await session.execute(update(Pupil).where(Pupil.school_id == school_id).values(mis_student_id=None))
    # The uploader's answers about students were for that connection; a reconnection starts from the
    # accounts' remembered links instead (a stale "create" would give a child a second account).
    await session.execute(
        delete(UploaderDecision).where(
            UploaderDecision.school_id == school_id, UploaderDecision.mis_student_id.is_not(None)
        )
    )
    school.state = "disconnected"
    school.migrating_since = None
    will_revoke = revoke and school.wonde_token_encrypted is not None
    run.status, run.finished_at = "succeeded", utc_now()
    run.counts = {
        "bands_unlinked": len(bands),
        "pupils_unlinked": len(pupils),
        "revoke": "pending" if will_revoke else "not needed",
    }
    if will_revoke:
        enqueue(session, "revoke_wonde_access", str(run.id), job_id=f"revoke:{run.id}")
    else:
        school.wonde_token_encrypted = None
    await session.flush()
    return run
