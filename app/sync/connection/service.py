"""Disconnecting a school from Wonde: stop syncing, unlink every band and pupil, keep every account.

Links are not lost: each removal is journalled with its before, so a reconnection can offer them again
as suggestions. When the school disconnects from our side, Wonde's access is revoked by a job after
commit (a failure there is recorded and retried, never fatal); when Wonde tells us access was revoked,
the token is dropped at once, since it no longer opens anything.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.bands.repository import BandRepository
from app.kit.jobs import REVOKE, enqueue
from app.kit.locking import lock_school
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger
from app.pupils.repository import PupilRepository
from app.sync.journal.entries import unlinked_band, unlinked_pupil
from app.sync.journal.writer import record
from app.sync.onboarding.repository import DecisionRepository
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

    band_repository, pupil_repository = BandRepository(session, school_id), PupilRepository(session, school_id)
    bands, pupils = await band_repository.linked(), await pupil_repository.linked()
    entries = [unlinked_band(band) for band in bands] + [unlinked_pupil(pupil) for pupil in pupils]
    await record(session, school_id, run.id, actor, entries)
    await band_repository.unlink_all()
    await pupil_repository.unlink_all()
    # The uploader's answers about students were for that connection; a reconnection starts from the
    # accounts' remembered links instead (a stale "create" would give a child a second account).
    await DecisionRepository(session, school_id).forget_students()
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
