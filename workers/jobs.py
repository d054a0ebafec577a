"""The job functions. Each takes ids, opens its own unit of work, and is safe to run twice.

``FUNCTIONS`` and ``CRON_FUNCTIONS`` bind each job of ``app.kit.jobs``' table to the function that
carries it out; ``workers.settings`` registers them under the table's names.

Every job is guarded (``failing_safely``): arq logs what a job raises with its traceback and keeps it,
pickled, in Redis, and a database error's text and arguments quote the values it refused (children's
names, UPNs). So a job raises only ``JobFailed`` (a failure code and an id) or arq's ``Retry``."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from arq.worker import Retry

from app.kit.jobs import (
    APPLY_RETENTION,
    EXPIRE_CREDENTIALS,
    MERGE,
    NIGHTLY_SYNCS,
    PING,
    READ,
    RECOVER_RUNS,
    REVOKE,
    SYNC,
    WEBHOOK,
    CronSpec,
    JobSpec,
)
from app.kit.log_context import log_context
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.pupils import credentials
from app.sync.connection.flow import process_event, revoke_access
from app.sync.mirror.flow import run_read
from app.sync.onboarding.flow import run_merge
from app.sync.reconcile.flow import run_sync
from app.sync.reconcile.schedule import queue_nightly_syncs
from app.sync.retention.flow import apply_retention as retain
from app.sync.runs.failures import JobFailed, failure_of
from app.sync.runs.recovery import recover
from app.sync.runs.service import complete_ping
from app.wonde.errors import WondeError
from workers.context import JobContext

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def failing_safely(subject: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """The job raises ``JobFailed`` (its failure code and the id it was given, about ``subject``) in place
    of any exception but ``JobFailed`` and ``Retry``, ``from None``, and logs the code, never the text."""

    def guard(job: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(job)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await job(*args, **kwargs)
            except (JobFailed, Retry):
                raise
            except Exception as exc:
                failure = failure_of(exc)
            key = str(args[1]) if len(args) > 1 else job.__name__
            extra = {"job": job.__name__, "id": key, "failure_code": failure.code, "detail": failure.detail}
            logger.error("job failed", extra=extra)
            raise JobFailed(failure.code, key, subject) from None

        return guarded

    return guard


@failing_safely("run")
async def ping_school(ctx: JobContext, run_id: str) -> str | None:
    """Complete a ping run (see ``app.sync.runs.service.start_ping``)."""
    with log_context(run_id=run_id):
        async with unit_of_work(ctx["sessionmaker"], ctx["queue"]) as session:
            run = await complete_ping(session, uuid.UUID(run_id))
            status = run.status if run else None
        logger.info("ping run finished", extra={"status": status})
        return status


@failing_safely("run")
async def read_school(ctx: JobContext, run_id: str) -> str:
    """Carry out a queued read of a school from Wonde into its MIS mirror (``app.sync.mirror.flow``)."""
    return await run_read(ctx["sessionmaker"], ctx["wonde"], ctx["secret_box"], uuid.UUID(run_id))


@failing_safely("webhook event")
async def process_webhook(ctx: JobContext, event_id: str) -> str:
    """Act on a stored Wonde webhook event (``app.sync.connection.flow``); retried while Wonde does not answer."""
    try:
        return await process_event(
            ctx["sessionmaker"], ctx["queue"], ctx["wonde"], ctx["secret_box"], uuid.UUID(event_id)
        )
    except WondeError as exc:
        raise Retry(defer=60 * ctx.get("job_try", 1)) from exc


@failing_safely("run")
async def revoke_wonde_access(ctx: JobContext, run_id: str) -> str:
    """Revoke Wonde access after a disconnect; retried with growing delays while Wonde does not answer."""
    try:
        return await revoke_access(ctx["sessionmaker"], ctx["wonde"], ctx["secret_box"], uuid.UUID(run_id))
    except WondeError as exc:
        raise Retry(defer=60 * ctx.get("job_try", 1)) from exc


@failing_safely("run")
async def merge_school(ctx: JobContext, run_id: str) -> str:
    """Apply a queued merge (``app.sync.onboarding.flow``), all or nothing."""
    with log_context(run_id=run_id):
        return await run_merge(ctx["sessionmaker"], ctx["secret_box"], uuid.UUID(run_id))


@failing_safely("job")
async def expire_credentials(ctx: JobContext) -> int:
    """Hourly: clear every new password's plaintext past its 30 days, downloaded or not."""
    async with unit_of_work(ctx["sessionmaker"], None) as session:
        cleared = await credentials.expire(session, utc_now())
    logger.info("expired login details", extra={"cleared": cleared})
    return cleared


@failing_safely("run")
async def sync_school(ctx: JobContext, run_id: str) -> str:
    """ "Sync now" and the nightly sync: read the school, then reconcile (``app.sync.reconcile.flow``)."""
    with log_context(run_id=run_id):
        return await run_sync(ctx["sessionmaker"], ctx["queue"], ctx["wonde"], ctx["secret_box"], uuid.UUID(run_id))


@failing_safely("job")
async def nightly_syncs(ctx: JobContext) -> int:
    """Every quarter of an hour: queue the syncing schools whose nightly slot has come."""
    async with unit_of_work(ctx["sessionmaker"], ctx["queue"]) as session:
        queued = await queue_nightly_syncs(session, utc_now())
    logger.info("nightly syncs queued", extra={"schools": len(queued)})
    return len(queued)


@failing_safely("job")
async def recover_runs(ctx: JobContext) -> dict[str, int]:
    """Every five minutes: send again the jobs of runs and webhook events whose job was lost (a Redis
    restart, a worker that died after arq gave up on it), and give up on what waited too long
    (``app.sync.runs.recovery``)."""
    done = await recover(ctx["sessionmaker"], ctx["queue"])
    if done["requeued"] or done["given_up"]:
        logger.warning("recovered lost work", extra=done)
    return done


@failing_safely("job")
async def apply_retention(ctx: JobContext) -> dict[str, int]:
    """Daily: delete the MIS mirror of schools whose consent ended long enough ago, reduce acted-on
    webhook events to their ids, and redact old journal values (``app.sync.retention.flow``); counts only."""
    return await retain(ctx["sessionmaker"], ctx["settings"].retention)


Job = Callable[..., Awaitable[Any]]

FUNCTIONS: dict[JobSpec, Job] = {
    PING: ping_school,
    READ: read_school,
    WEBHOOK: process_webhook,
    REVOKE: revoke_wonde_access,
    MERGE: merge_school,
    SYNC: sync_school,
}

CRON_FUNCTIONS: dict[CronSpec, Job] = {
    EXPIRE_CREDENTIALS: expire_credentials,
    NIGHTLY_SYNCS: nightly_syncs,
    RECOVER_RUNS: recover_runs,
    APPLY_RETENTION: apply_retention,
}
