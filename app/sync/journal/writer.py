"""The journal: one ``changes`` row per change a run applies, with before and after, so every change
can be shown, explained and undone. Rows are written in bulk, one statement per run step."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChangeRow


def id_text(value: uuid.UUID | None) -> str | None:
    """An id as the journal's before and after values keep it (JSON has no UUID)."""
    return str(value) if value else None


@dataclass(frozen=True)
class Entry:
    entity_type: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    pupil_id: uuid.UUID | None = None
    band_id: uuid.UUID | None = None
    status: str = "applied"


async def record(
    session: AsyncSession, school_id: str, run_id: uuid.UUID, actor: str | None, entries: Sequence[Entry]
) -> None:
    if not entries:
        return
    await session.execute(
        insert(ChangeRow),
        [
            {
                "school_id": school_id,
                "run_id": run_id,
                "actor": actor,
                "entity_type": e.entity_type,
                "entity_id": e.entity_id,
                "action": e.action,
                "before": e.before,
                "after": e.after,
                "pupil_id": e.pupil_id,
                "band_id": e.band_id,
                "status": e.status,
            }
            for e in entries
        ],
    )
