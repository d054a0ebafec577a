"""Every query of the retention job. Each works on a bounded batch across schools, in a fixed number of
statements whatever the number of schools or rows in it; the flow commits each batch on its own.

Tenancy: the mirror's purge deletes by ``school_id = ANY(...)`` for the schools it has just chosen and
locked; the other two rules are not about one school (they sweep every school's old rows by time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Band,
    ChangeRow,
    ChangeStatus,
    MisClass,
    MisGroup,
    MisMembership,
    MisRecordIssue,
    MisStudent,
    Pupil,
    School,
)
from app.models.school import SchoolState

# -- the MIS mirror of schools whose consent ended ---------------------------------------------------------

# A school that is approved or syncing consents (and has no ``consent_ended_at``); this is a second guard.
_WITHOUT_CONSENT = (SchoolState.DISCONNECTED, SchoolState.PENDING)
_MIRROR = (MisStudent, MisClass, MisGroup, MisRecordIssue)


def _has_mirror() -> ColumnElement[bool]:
    return or_(*(exists().where(model.school_id == School.id) for model in _MIRROR))


def _still_linked() -> ColumnElement[bool]:
    """An account or band still following the mirror (a disconnect unlinks them all: this would be one
    undone afterwards). Deleting the mirror under it would fail, and its link is journalled, so it waits."""
    return or_(
        exists().where(Pupil.school_id == School.id, Pupil.mis_student_id.is_not(None)),
        exists().where(
            Band.school_id == School.id, or_(Band.mis_class_id.is_not(None), Band.mis_group_id.is_not(None))
        ),
    )


def _consent_ended_before(cutoff: datetime) -> ColumnElement[bool]:
    return and_(School.consent_ended_at < cutoff, School.state.in_(_WITHOUT_CONSENT), _has_mirror())


async def schools_to_purge(session: AsyncSession, cutoff: datetime, after: str, limit: int) -> list[str]:
    """Up to ``limit`` schools (by id, after ``after``) whose consent ended before ``cutoff`` and that still
    have a mirror, row-locked; a school another transaction is changing (an approval arriving) is skipped."""
    rows = await session.scalars(
        select(School.id)
        .where(_consent_ended_before(cutoff), ~_still_linked(), School.id > after)
        .order_by(School.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def schools_kept_linked(session: AsyncSession, cutoff: datetime) -> int:
    """How many schools are due a purge but still have a linked account or band (so keep their mirror)."""
    count = await session.scalar(select(func.count()).where(_consent_ended_before(cutoff), _still_linked()))
    return int(count or 0)


async def delete_mirrors(session: AsyncSession, school_ids: Sequence[str]) -> int:
    """Delete the mirror of these schools (students, classes, groups, memberships, recorded issues; the
    uploader's decisions about them go by cascade) and forget when they were last read, in a fixed
    number of statements. Accounts and bands are not touched. Returns the rows deleted."""
    if not school_ids:
        return 0
    ids = list(school_ids)
    deleted = 0
    for model in (MisMembership, MisRecordIssue, MisStudent, MisClass, MisGroup):
        result: Any = await session.execute(delete(model).where(model.school_id.in_(ids)))
        deleted += int(result.rowcount or 0)
    await session.execute(
        update(School).where(School.id.in_(ids)).values(last_full_read_at=None, last_delta_read_at=None)
    )
    return deleted


# -- webhook events acted on ------------------------------------------------------------------------------

# ``app.models.webhook_event.acted_on_payload``, in SQL: the type and Wonde school id from the columns,
# or an unreadable body's size.
_ACTED_ON_PAYLOAD = """jsonb_strip_nulls(CASE WHEN payload_type = 'unreadable'
    THEN jsonb_build_object('unreadable_body_bytes', payload -> 'unreadable_body_bytes')
    ELSE jsonb_build_object('payload_type', payload_type, 'school_id', wonde_school_id) END)"""
_FORGET_PAYLOADS = text(
    f"""
    UPDATE webhook_events SET payload = {_ACTED_ON_PAYLOAD}, token_encrypted = NULL
    WHERE id IN (
        SELECT id FROM webhook_events
        WHERE status <> 'received'
          AND (token_encrypted IS NOT NULL OR payload IS DISTINCT FROM {_ACTED_ON_PAYLOAD})
        ORDER BY created_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    """  # noqa: S608 (no input: a constant expression)
)


async def forget_webhook_payloads(session: AsyncSession, limit: int) -> int:
    """Reduce up to ``limit`` acted-on events still holding more than their type and ids (stored before
    events were reduced when acted on) as ``WebhookEvent.forget_payload`` does; returns how many."""
    result: Any = await session.execute(_FORGET_PAYLOADS, {"limit": limit})
    return int(result.rowcount or 0)


# -- the journal's values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalValues:
    id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def journal_values_before(session: AsyncSession, cutoff: datetime, limit: int) -> list[JournalValues]:
    """Up to ``limit`` journal rows written before ``cutoff`` and not yet redacted, oldest first, locked;
    never a held change still waiting for an admin."""
    rows = await session.execute(
        select(ChangeRow.id, ChangeRow.before, ChangeRow.after)
        .where(
            ChangeRow.redacted_at.is_(None),
            ChangeRow.created_at < cutoff,
            ChangeRow.status != ChangeStatus.HELD,
        )
        .order_by(ChangeRow.created_at, ChangeRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [JournalValues(id_, before, after) for id_, before, after in rows]


async def redact_journal_values(session: AsyncSession, rows: Sequence[JournalValues], at: datetime) -> None:
    """Write the redacted values back, by primary key, in one statement."""
    if rows:
        await session.execute(
            update(ChangeRow),
            [{"id": row.id, "before": row.before, "after": row.after, "redacted_at": at} for row in rows],
        )
