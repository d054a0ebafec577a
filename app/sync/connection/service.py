"""The school's connection to Wonde: an approval trusted (by its URN, or by the platform's confirmation)
starts the reads; disconnecting stops syncing, unlinks every band and pupil and keeps every account.

Links are not lost: each removal is journalled with its before (the student's Wonde id too), so a
reconnection can offer them again, even after the school's MIS mirror was deleted once its consent had
ended long enough (``end_consent``). When the school disconnects from our side, Wonde's access is
revoked by a job after commit (a failure there is recorded and retried, never fatal); when Wonde tells
us access was revoked, the token is dropped at once, since it no longer opens anything.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.bands.repository import BandRepository
from app.errors import Conflict
from app.kit.jobs import REVOKE, enqueue
from app.kit.locking import ROW_FOR_CHANGE, lock_school
from app.kit.time import utc_now
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger
from app.pupils.repository import PupilRepository
from app.schools.service import SchoolDisconnected, get_school
from app.sync.journal.entries import unlinked_band, unlinked_pupil
from app.sync.journal.writer import record
from app.sync.mirror.service import start_read
from app.sync.onboarding.repository import DecisionRepository
from app.sync.reconcile.service import start_sync
from app.sync.runs import service as runs
from app.sync.runs.service import SyncAlreadyRunning, claim_school


class NoApprovalWaiting(Conflict):
    """The school has no Wonde approval waiting for the platform's confirmation."""


def urn_matches(registered: str | None, from_wonde: str | None) -> bool:
    """Whether Wonde's school is the registered one by its DfE URN; a school without one never matches."""
    return registered is not None and from_wonde is not None and registered.strip() == from_wonde.strip()


def end_consent(school: School) -> None:
    """Note when the school's consent to share its MIS data ended (the first moment, if it ended twice
    without an approval between): its MIS mirror is deleted once the retention period has run from then
    (``app.sync.retention``). An approval clears it (``app.schools.service.connect_to_wonde``)."""
    school.consent_ended_at = school.consent_ended_at or utc_now()


def await_confirmation(school: School, wonde_urn: str | None) -> None:
    """Hold an approval whose URN is not the registered one: nothing is read until the platform says."""
    school.state = SchoolState.NEEDS_CONFIRMATION
    school.wonde_urn = wonde_urn


async def begin_reading(
    session: AsyncSession, school: School, *, trigger: RunTrigger, actor: str | None
) -> SyncRun | None:
    """Start on a school whose approval is now trusted: one that was syncing before (its bands are
    linked) syncs again at once; any other is read in full for its uploader. None when a sync already
    queued or running stands in for the new one."""
    school.wonde_urn = None
    if await BandRepository(session, school.id).any_linked():
        school.state = SchoolState.SYNCING
        try:
            return await start_sync(session, school.id, trigger=trigger, actor=actor)
        except SyncAlreadyRunning:
            return None
    school.state = SchoolState.APPROVED
    return await start_read(session, school.id, kind=RunKind.FULL_READ, trigger=trigger, actor=actor)


async def _waiting_school(session: AsyncSession, school_id: str) -> School:
    await get_school(session, school_id)  # 404 before any lock
    await lock_school(session, school_id)
    school = await session.get(School, school_id, with_for_update=ROW_FOR_CHANGE, populate_existing=True)
    assert school is not None
    if school.state != SchoolState.NEEDS_CONFIRMATION:
        raise NoApprovalWaiting(f"{NoApprovalWaiting().detail} It is {school.state}.")
    return school


async def confirm_approval(session: AsyncSession, school_id: str, actor: str) -> School:
    """The platform says the Wonde school that approved is this school: its URN becomes the one Wonde
    gave (a school that became an academy has a new one), and the reads begin."""
    school = await _waiting_school(session, school_id)
    if school.wonde_urn is not None:
        school.urn = school.wonde_urn
    await begin_reading(session, school, trigger=RunTrigger.MANUAL, actor=actor)
    await session.flush()
    await session.refresh(school)
    return school


async def reject_approval(session: AsyncSession, school_id: str, actor: str) -> School:
    """The platform says the Wonde school that approved is not this school: its token is forgotten and
    the binding undone, so that the right school can be bound. A school that synced from it before is
    disconnected (links journalled, every account kept). Nothing is asked of Wonde: the Wonde school
    approved the app, and its own tenant may yet be bound to it."""
    school = await _waiting_school(session, school_id)
    if await BandRepository(session, school_id).any_linked():
        await disconnect_school(session, school_id, trigger=RunTrigger.MANUAL, actor=actor, revoke=False)
    else:
        school.state = SchoolState.PENDING
        end_consent(school)  # whatever was read under an earlier approval goes in time
    school.wonde_school_id = school.wonde_domain = school.wonde_token_encrypted = school.wonde_urn = None
    await session.flush()
    await session.refresh(school)
    return school


async def disconnect_school(
    session: AsyncSession, school_id: str, *, trigger: RunTrigger, actor: str | None, revoke: bool
) -> SyncRun:
    """Unlink the school's bands and pupils and mark it disconnected, in the caller's transaction. A
    school already disconnected is refused (409): there is nothing left to unlink or revoke, and a
    second run would only say so."""
    await lock_school(session, school_id)
    # Read again under the lock: a disconnect that committed meanwhile is seen, not the row as loaded.
    school = await session.get(School, school_id, with_for_update=ROW_FOR_CHANGE, populate_existing=True)
    assert school is not None
    if school.state == SchoolState.DISCONNECTED:
        raise SchoolDisconnected("The school is already disconnected from Wonde.")
    # Created "running" so the one-active-run index refuses it while a merge or reconcile is under way.
    run = runs.new_run(school_id, RunKind.DISCONNECT, trigger, actor)
    runs.start(run)
    await claim_school(session, run)

    band_repository, pupil_repository = BandRepository(session, school_id), PupilRepository(session, school_id)
    bands, pupils = await band_repository.linked(), await pupil_repository.linked()
    entries = [unlinked_band(band) for band in bands] + [unlinked_pupil(pupil, student) for pupil, student in pupils]
    await record(session, school_id, run.id, actor, entries)
    await band_repository.unlink_all()
    await pupil_repository.unlink_all()
    # The uploader's links and new accounts were answers for that connection; a reconnection starts from
    # the accounts' remembered links instead (a stale "create" would give a child a second account). A
    # skip is kept: it is the admin's word about the child, until they take it back.
    await DecisionRepository(session, school_id).forget_students()
    school.state = SchoolState.DISCONNECTED
    school.migrating_since = school.wonde_urn = None
    end_consent(school)
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
