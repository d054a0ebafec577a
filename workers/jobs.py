"""The job functions. Each takes ids, opens its own unit of work, and is safe to run twice."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from app.kit.unit_of_work import unit_of_work
from app.sync.fetch import run_read
from app.sync.runs import complete_ping

logger = logging.getLogger(__name__)


async def ping_school(ctx: dict[str, Any], run_id: str) -> str | None:
    """Complete a ping run (see ``app.sync.runs.start_ping``)."""
    async with unit_of_work(ctx["sessionmaker"], ctx["queue"]) as session:
        run = await complete_ping(session, uuid.UUID(run_id))
        status = run.status if run else None
    logger.info("ping run finished", extra={"run_id": run_id, "status": status})
    return status


async def read_school(ctx: dict[str, Any], run_id: str) -> str:
    """Carry out a queued read of a school from Wonde into its MIS mirror (``app.sync.fetch``)."""
    return await run_read(ctx["sessionmaker"], ctx["wonde"], ctx["secret_box"], uuid.UUID(run_id))
