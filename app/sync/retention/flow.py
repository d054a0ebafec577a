"""The daily retention job: children's data is kept only as long as it is needed (README, "Data
protection"). Four rules, each in its own transactions, one per bounded batch, so a large backlog
never holds a long transaction and a failure costs at most one batch (the next day goes on from there):

1. the MIS mirror of a school whose consent ended more than ``mirror_after_consent_days`` ago is
   deleted (its accounts, bands, memberships and journal stay; a reconnection reads it afresh);
2. webhook events acted on keep only their type and ids (done when they are acted on; this sweeps the
   ones stored before that);
3. journal values older than ``journal_values_days`` are redacted (``app.sync.journal.redaction``),
   never those of a held change still waiting for an admin;
4. accounts archived longer ago than their school's ``leaver_grace_days`` are anonymised
   (``app.sync.erasure.service``, one transaction per school).

Each rule is idempotent: what it did is no longer what it looks for. Only counts are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import RetentionSettings
from app.kit.locking import try_lock_schools
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.sync.erasure.service import anonymise_leavers
from app.sync.journal.redaction import redacted
from app.sync.retention import repository
from app.sync.retention.repository import JournalValues
from app.sync.runs.failures import failure_of

logger = logging.getLogger(__name__)

Sessionmaker = async_sessionmaker[AsyncSession]
# Rows (or schools) per transaction.
BATCH = 500


async def apply_retention(
    sessionmaker: Sessionmaker, retention: RetentionSettings, *, batch: int = BATCH
) -> dict[str, int]:
    """Apply every retention rule as of now; returns what each did (counts only). A rule that fails does
    not stop the others; the first failure is raised once they have all run."""
    now = utc_now()
    rules: list[tuple[str, Callable[[], Awaitable[dict[str, int]]]]] = [
        (
            "mirror",
            lambda: purge_mirrors(sessionmaker, now - timedelta(days=retention.mirror_after_consent_days), batch),
        ),
        ("webhook_events", lambda: forget_webhook_payloads(sessionmaker, batch)),
        (
            "journal",
            lambda: redact_journal(sessionmaker, now - timedelta(days=retention.journal_values_days), now, batch),
        ),
        ("leavers", lambda: _anonymise_leavers(sessionmaker, now)),
    ]
    done: dict[str, int] = {}
    failed: Exception | None = None
    for rule, run in rules:
        try:
            done |= await run()
        except Exception as exc:
            failure = failure_of(exc)
            logger.error("retention rule failed", extra={"rule": rule, "failure_code": failure.code})
            failed = failed or exc
    logger.info("retention applied", extra=done)
    if failed is not None:
        raise failed
    return done


async def _anonymise_leavers(sessionmaker: Sessionmaker, now: datetime) -> dict[str, int]:
    return {"pupils_anonymised": await anonymise_leavers(sessionmaker, now)}


async def purge_mirrors(sessionmaker: Sessionmaker, cutoff: datetime, batch: int) -> dict[str, int]:
    """Delete the MIS mirror of every school whose consent ended before ``cutoff``, ``batch`` schools per
    transaction; a school being changed right now (an approval arriving, a read writing) waits for the
    next day."""
    schools = rows = 0
    after = ""
    while True:
        async with unit_of_work(sessionmaker, None) as session:
            chosen = await repository.schools_to_purge(session, cutoff, after, batch)
            locked = await try_lock_schools(session, chosen)
            rows += await repository.delete_mirrors(session, locked)
        schools += len(locked)
        if len(chosen) < batch:
            break
        after = chosen[-1]
    async with unit_of_work(sessionmaker, None) as session:
        kept = await repository.schools_kept_linked(session, cutoff)
    if kept:
        logger.warning("mirrors kept: the school still has linked accounts or bands", extra={"schools": kept})
    return {"mirrors_purged": schools, "mirror_rows_deleted": rows, "mirrors_kept_linked": kept}


async def forget_webhook_payloads(sessionmaker: Sessionmaker, batch: int) -> dict[str, int]:
    """Reduce every acted-on webhook event to its type and ids, ``batch`` events per transaction."""
    total = 0
    while True:
        async with unit_of_work(sessionmaker, None) as session:
            reduced = await repository.forget_webhook_payloads(session, batch)
        total += reduced
        if reduced < batch:
            return {"webhook_events_reduced": total}


async def redact_journal(sessionmaker: Sessionmaker, cutoff: datetime, now: datetime, batch: int) -> dict[str, int]:
    """Redact the values of every journal row written before ``cutoff``, ``batch`` rows per transaction."""
    total = 0
    while True:
        async with unit_of_work(sessionmaker, None) as session:
            found = await repository.journal_values_before(session, cutoff, batch)
            await repository.redact_journal_values(
                session, [JournalValues(row.id, redacted(row.before), redacted(row.after)) for row in found], now
            )
        total += len(found)
        if len(found) < batch:
            return {"journal_rows_redacted": total}
