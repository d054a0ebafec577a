"""Acting on a stored Wonde event (a worker job). Each event is acted on once: a redelivered job finds
it processed and stops.

- ``schoolApproved`` is trusted only after Wonde, asked with the supplied token, returns the same
  school, and that school carries the URN the school was registered with. Then the token is kept
  (encrypted), the school is approved, and a full read is queued. A school without a URN, or a Wonde
  school with another, keeps the token but waits, ``needs_confirmation``, with nothing read, until the
  platform confirms or rejects it (``app.sync.connection.service``).
- ``accessRevoked`` / ``accessDeclined`` disconnect the school (accounts kept, links journalled).
- ``schoolMigration`` marks the school as migrating; re-linking belongs to the reconcile.

Once acted on (processed or rejected), an event keeps only its type and ids: its token and the rest of
its body are dropped (``WebhookEvent.forget_payload``).

Wonde's bodies carry no time: the same body sent again is one stored event only while that event
stands (``app.webhooks.intake``); consent withdrawn again, or an approval rejected before the school was
registered, arrives as a new event and is acted on as the school's state then calls for.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.locking import ROW_FOR_CHANGE
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun, WebhookEvent
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger
from app.models.webhook_event import WebhookStatus
from app.schools.service import connect_to_wonde
from app.sync.connection.service import await_confirmation, begin_reading, disconnect_school, urn_matches
from app.sync.mirror.service import start_read
from app.sync.reconcile.service import start_sync
from app.sync.runs.service import SyncAlreadyRunning
from app.wonde.client import WondeClient
from app.wonde.errors import WondeAuthError, WondeError, WondeNotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Approval:
    wonde_school_id: str
    token: str


@dataclass(frozen=True)
class _Verified:
    """What Wonde said of the school the token opens."""

    domain: str | None
    urn: str | None


class EventRejected(Exception):
    """The event cannot be acted on; the reason is stored on it and nothing else changes."""


async def _school_for(session: AsyncSession, wonde_school_id: str | None) -> School:
    if not wonde_school_id:
        raise EventRejected("the event names no school")
    school = await session.scalar(select(School).where(School.wonde_school_id == wonde_school_id))
    if school is None:
        raise EventRejected(f"no school here is waiting for Wonde school {wonde_school_id}")
    return school


async def _finish(session: AsyncSession, event: WebhookEvent, status: WebhookStatus, error: str | None = None) -> str:
    """The event is acted on: its status, and it keeps only its type and ids (its token is dropped)."""
    event.status, event.error, event.processed_at = status, error, utc_now()
    event.forget_payload()
    await session.flush()
    return status


async def _verify(wonde: WondeClient, approval: _Approval) -> _Verified:
    """Ask Wonde for the school with the supplied token; its region domain and URN if it is the same school."""
    try:
        school = await wonde.school(approval.wonde_school_id, approval.token).get_school()
    except (WondeAuthError, WondeNotFound) as exc:
        raise EventRejected(f"the supplied token does not open this school ({exc})") from exc
    if school.id != approval.wonde_school_id:
        raise EventRejected("Wonde returned a different school for the supplied token")
    return _Verified(domain=school.region.domain if school.region else None, urn=school.urn)


async def _approved(
    session: AsyncSession, school: School, approval: _Approval, verified: _Verified, box: SecretBox
) -> None:
    """Keep the approval's token; read the school when its URN is the registered one, else wait for the platform."""
    trusted = urn_matches(school.urn, verified.urn)
    syncing = school.state == SchoolState.SYNCING
    if trusted and syncing:  # re-approved (a new token): catch up at once
        await _catch_up(session, school.id)
    waited = school.state == SchoolState.NEEDS_CONFIRMATION
    await connect_to_wonde(
        session,
        school.id,
        wonde_school_id=approval.wonde_school_id,
        token=approval.token,
        domain=verified.domain,
        box=box,
    )
    if not trusted:
        await_confirmation(school, verified.urn)
        logger.warning("a Wonde approval waits for the platform: the URNs differ", extra={"school_id": school.id})
    elif waited:  # the URN now matches (the platform corrected it): as if confirmed
        await begin_reading(session, school, trigger=RunTrigger.WEBHOOK, actor="wonde")
    elif not syncing:
        await start_read(session, school.id, kind=RunKind.FULL_READ, trigger=RunTrigger.WEBHOOK)


async def _catch_up(session: AsyncSession, school_id: str) -> None:
    """Queue a sync of the school now. While one is already queued or running, that one stands in
    for it (and the nightly sync follows): the event is still processed, and what it changed (a new
    token, a migration noted) is kept rather than rolled back with a 409.

    Call it before changing the school's row: claiming may wait for the running sync, which locks
    that row (claiming while holding it deadlocked)."""
    try:
        await start_sync(session, school_id, trigger=RunTrigger.WEBHOOK, actor="wonde")
    except SyncAlreadyRunning:
        logger.info("a sync of the school is already queued or running", extra={"school_id": school_id})


async def process_event(
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue | None,
    wonde: WondeClient,
    box: SecretBox,
    event_id: uuid.UUID,
) -> str:
    """Act on one stored event; returns its final status. Transient Wonde failures propagate (the job
    is retried); anything that makes the event untrustworthy rejects it with the reason."""
    approval: _Approval | None = None
    async with unit_of_work(sessionmaker, None) as session:
        event = await session.get(WebhookEvent, event_id, with_for_update=True)
        if event is None or event.status != WebhookStatus.RECEIVED:
            return event.status if event else "missing"
        event.attempts += 1
        if event.payload_type == "schoolApproved":
            if event.token_encrypted is None or not event.wonde_school_id:
                return await _finish(
                    session, event, WebhookStatus.REJECTED, "schoolApproved without a school_id and school_token"
                )
            approval = _Approval(event.wonde_school_id, box.decrypt(event.token_encrypted))
    verified: _Verified | None = None
    if approval is not None:
        try:
            verified = await _verify(wonde, approval)
        except EventRejected as exc:
            async with unit_of_work(sessionmaker, None) as session:
                event = await session.get(WebhookEvent, event_id, with_for_update=True)
                assert event is not None
                return await _finish(session, event, WebhookStatus.REJECTED, str(exc))
        except WondeError:
            logger.warning("could not verify a schoolApproved event yet", extra={"event_id": str(event_id)})
            raise
    async with unit_of_work(sessionmaker, queue) as session:
        event = await session.get(WebhookEvent, event_id, with_for_update=True)
        assert event is not None
        if event.status != WebhookStatus.RECEIVED:
            return event.status
        try:
            school = await _school_for(session, event.wonde_school_id)
        except EventRejected as exc:
            return await _finish(session, event, WebhookStatus.REJECTED, str(exc))
        event.school_id = school.id
        if approval is not None:
            assert verified is not None
            await _approved(session, school, approval, verified, box)
        elif event.payload_type in ("accessRevoked", "accessDeclined"):
            if school.state != SchoolState.DISCONNECTED:
                await disconnect_school(session, school.id, trigger=RunTrigger.WEBHOOK, actor="wonde", revoke=False)
        elif event.payload_type == "schoolMigration":
            if event.payload.get("completed_at") and school.state == SchoolState.SYNCING:
                await _catch_up(session, school.id)  # re-link now
            school.migrating_since = school.migrating_since or utc_now()
        return await _finish(session, event, WebhookStatus.PROCESSED)


async def revoke_access(
    sessionmaker: async_sessionmaker[AsyncSession], wonde: WondeClient, box: SecretBox, run_id: uuid.UUID
) -> str:
    """Ask Wonde to revoke our access after a disconnect, then forget the token. A transient failure
    is recorded on the run and re-raised so the job is retried; a token Wonde no longer accepts means
    access is already gone."""
    async with unit_of_work(sessionmaker, None) as session:
        run = await session.get(SyncRun, run_id)
        school = await session.get(School, run.school_id) if run else None
        if run is None or school is None or school.wonde_token_encrypted is None or school.wonde_school_id is None:
            return "nothing to revoke"
        token = box.decrypt(school.wonde_token_encrypted)
        client = wonde.school(school.wonde_school_id, token, domain=school.wonde_domain)
    try:
        await client.revoke_access()
        outcome = "revoked"
    except (WondeAuthError, WondeNotFound):
        outcome = "already revoked"
    except WondeError as exc:
        await _note_revoke(sessionmaker, run_id, f"failed, will retry: {exc}", clear_token=False)
        raise
    await _note_revoke(sessionmaker, run_id, outcome, clear_token=True)
    return outcome


async def _note_revoke(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, outcome: str, *, clear_token: bool
) -> None:
    async with unit_of_work(sessionmaker, None) as session:
        run = await session.get(SyncRun, run_id, with_for_update=True)
        if run is None:
            return
        run.counts = {**run.counts, "revoke": outcome}
        school = await session.get(School, run.school_id, with_for_update=ROW_FOR_CHANGE)
        if clear_token and school is not None and school.state == SchoolState.DISCONNECTED:
            school.wonde_token_encrypted = None
