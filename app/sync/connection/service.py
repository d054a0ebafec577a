"""Disconnecting a school from Wonde: stop syncing, unlink every band and pupil, keep every account.

Links are not lost: each removal is journalled with its before, so a reconnection can offer them again
as suggestions. When the school disconnects from our side, Wonde's access is revoked by a job after
commit (a failure there is recorded and retried, never fatal); when Wonde tells us access was revoked,
the token is dropped at once, since it no longer opens anything.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.jobs import REVOKE, enqueue
from app.kit.locking import lock_school
from app.models import Band, Pupil, School, SyncRun, UploaderDecision
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger
from app.sync.journal.writer import Entry, id_text, record
from app.sync.runs import service as runs
from app.sync.runs.service import claim_school


async def disconnect_school(
    session: AsyncSession, school_id: str, *, trigger: RunTrigger, actor: str | None, revoke: bool
) -> SyncRun:
    """Unlink the school's bands and pupils and mark it disconnected, in the caller's transaction."""
    await lock_school(session, school_id)
    school = await session.get(School, school_id, with_for_update=True)
    assert school is not None
    # Created "running" so the one-active-run index refuses it while a merge or reconcile is under way.
    run = runs.new_run(school_id, RunKind.DISCONNECT, trigger, actor)
    runs.start(run)
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
    entries = [
        Entry(
            "band",
            str(band.id),
            "unlink_band",
            {"mis_class_id": id_text(band.mis_class_id), "mis_group_id": id_text(band.mis_group_id)},
            {"mis_class_id": None, "mis_group_id": None},
            band_id=band.id,
        )
        for band in bands
    ] + [
        Entry(
            "pupil",
            str(p.id),
            "unlink_pupil",
            {"mis_student_id": id_text(p.mis_student_id)},
            {"mis_student_id": None},
            pupil_id=p.id,
        )
        for p in pupils
    ]
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
    school.state = SchoolState.DISCONNECTED
    school.migrating_since = None
    will_revoke = revoke and school.wonde_token_encrypted is not None
    runs.succeed(
        run,
        counts={
            "bands_unlinked": len(bands),
            "pupils_unlinked": len(pupils),
            "revoke": "pending" if will_revoke else "not needed",
        },
    )
    if will_revoke:
        enqueue(session, REVOKE, run.id)
    else:
        school.wonde_token_encrypted = None
    await session.flush()
    return run
