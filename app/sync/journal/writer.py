"""The journal: one ``changes`` row per change a run applies, with before and after, so every change
can be shown, explained and undone. Rows are written in bulk, one statement per run step; what each
entry says is decided in ``entries.py``. Rows are stamped with the service's clock: the retention job
redacts their values by that time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import ChangeRow
from app.sync.journal.entries import Entry


async def record(
    session: AsyncSession, school_id: str, run_id: uuid.UUID, actor: str | None, entries: Sequence[Entry]
) -> None:
    if not entries:
        return
    now = utc_now()  # the service's clock (which tests pin), like every other time it keeps
    await session.execute(
        insert(ChangeRow),
        [
            {
                "school_id": school_id,
                "run_id": run_id,
                "actor": actor,
                "entity_type": e.entity_type.value,
                "entity_id": e.entity_id,
                "action": e.action.value,
                "before": e.before,
                "after": e.after,
                "pupil_id": e.pupil_id,
                "band_id": e.band_id,
                "status": e.status.value,
                "created_at": now,
            }
            for e in entries
        ],
    )
