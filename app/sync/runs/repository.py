"""Every query over runs: one school's (``RunRepository``), and recovery's, which look across schools
(or at the few schools a test or an operator names)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Select, String, and_, cast, delete, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.kit.repository import SchoolScoped
from app.models import Band, Pupil, SyncRun, WebhookEvent
from app.models.sync_run import ACTIVE_RUN_STATUSES, READ_RUN_KINDS, RunKind, RunStatus
from app.models.webhook_event import WebhookStatus

# ``counts["revoke"]`` of a disconnect whose Wonde revocation is still to be done.
REVOKE_PENDING = ("pending", "failed, will retry%")


class RunRepository(SchoolScoped[SyncRun]):
    model = SyncRun

    def newest_first(self) -> Select[SyncRun]:
        return self.for_school().order_by(SyncRun.created_at.desc(), SyncRun.id)

    async def queued(self) -> list[tuple[uuid.UUID, str]]:
        """The school's queued runs, oldest first: (id, kind)."""
        rows = await self.session.execute(
            select(SyncRun.id, SyncRun.kind)
            .where(SyncRun.school_id == self.school_id, SyncRun.status == RunStatus.QUEUED)
            .order_by(SyncRun.created_at)
        )
        return [(run_id, kind) for run_id, kind in rows]

    async def ping_counts(self) -> dict[str, int]:
        """What a ping reports: the school's bands and pupils."""
        bands = await self.session.scalar(
            select(func.count()).select_from(Band).where(Band.school_id == self.school_id)
        )
        pupils = await self.session.scalar(
            select(func.count()).select_from(Pupil).where(Pupil.school_id == self.school_id)
        )
        return {"bands": int(bands or 0), "pupils": int(pupils or 0)}


async def waiting_runs(session: AsyncSession, before: datetime, schools: Collection[str] | None) -> list[SyncRun]:
    """Active runs created before ``before``, except the reads a sync carries out itself (the sync's
    own recovery resumes those), and except rows a live transaction holds (a merge under way)."""
    parent = aliased(SyncRun)
    own_read = exists().where(
        parent.school_id == SyncRun.school_id,
        parent.kind == RunKind.RECONCILE,
        parent.progress["read_run_id"].astext == cast(SyncRun.id, String),
    )
    query = (
        select(SyncRun)
        .where(SyncRun.status.in_(ACTIVE_RUN_STATUSES), SyncRun.created_at < before)
        .where(or_(SyncRun.kind.not_in(READ_RUN_KINDS), ~own_read))
        .where(SyncRun.school_id.in_(schools) if schools is not None else true())
        .order_by(SyncRun.created_at)
        .with_for_update(of=SyncRun, skip_locked=True)
    )
    return list(await session.scalars(query))


async def pending_revokes(session: AsyncSession, before: datetime, schools: Collection[str] | None) -> list[SyncRun]:
    """Disconnects created before ``before`` whose Wonde revocation is still to be done."""
    query = (
        select(SyncRun)
        .where(
            SyncRun.kind == RunKind.DISCONNECT,
            SyncRun.status == RunStatus.SUCCEEDED,
            SyncRun.created_at < before,
            or_(*(SyncRun.counts["revoke"].astext.like(p) for p in REVOKE_PENDING)),
            SyncRun.school_id.in_(schools) if schools is not None else true(),
        )
        .with_for_update(of=SyncRun, skip_locked=True)
    )
    return list(await session.scalars(query))


async def received_events(
    session: AsyncSession, before: datetime, schools: Collection[str] | None
) -> list[WebhookEvent]:
    """Webhook events received before ``before`` and not yet processed."""
    query = (
        select(WebhookEvent)
        .where(and_(WebhookEvent.status == WebhookStatus.RECEIVED, WebhookEvent.created_at < before))
        .where(WebhookEvent.school_id.in_(schools) if schools is not None else true())
        .order_by(WebhookEvent.created_at)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(query))


async def delete_events_about(session: AsyncSession, schools: Collection[str], wonde_school_id: str | None) -> None:
    """Delete the webhook events about these schools, or about that Wonde school (``bandsync demo``
    forgetting its own school)."""
    about: ColumnElement[bool] = WebhookEvent.school_id.in_(schools)
    if wonde_school_id:
        about = or_(about, WebhookEvent.wonde_school_id == wonde_school_id)
    await session.execute(delete(WebhookEvent).where(about))
