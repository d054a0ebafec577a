"""Prometheus ``/metrics``: counts read from the database at most every 15 seconds, behind a scrape token.

Runs, changes and Wonde requests are rows in tables that are never deleted from, so counts read from
them are true counters across every API and worker process without a shared metrics store. Counting
them reads whole tables, so each API process measures at most once every ``MAX_AGE`` (one scrape
measures; scrapes arriving meanwhile wait for its answer) and serves that measurement until it is
older: however large the journal grows and however often anyone scrapes, the tables are read once per
15 seconds per process. The queue depth is read live (one ZCARD, constant time).

Access: with ``metrics_token`` set, a scrape sends ``Authorization: Bearer <token>`` (compared in
constant time; 401 otherwise). With none set, /metrics answers in development only and is 404
elsewhere: the counts span every school, so they are the operator's, never a tenant's. Names and
tokens never appear: only kinds, statuses and numbers.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.errors import ErrorResponse, NotAuthenticated
from app.kit.time import utc_now
from app.models import ChangeRow, ChangeStatus, SyncRun

router = APIRouter(tags=["health"])

# Upper bounds (seconds) of the run duration buckets: a delta read takes seconds, a first read or a
# merge of a large school minutes, a read slowed by Wonde's rate limits up to an hour.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

# How long one measurement of the tables is served (Prometheus' usual scrape interval).
MAX_AGE = timedelta(seconds=15)


@dataclass(frozen=True)
class Measurement:
    """The tables' counts at one moment: plain tuples, rendered afresh for every scrape."""

    at: datetime
    runs: list[tuple[str, str, int]]  # kind, status, count
    durations: list[tuple[str, int, float, int, tuple[int, ...]]]  # kind, finished, seconds, requests, buckets
    responses: list[tuple[str, int]]  # Wonde status, count
    changes: list[tuple[str, str, int]]  # action, status, count


async def measure(session: AsyncSession, at: datetime) -> Measurement:
    """The counting queries: four, each one pass over its table."""
    runs = (
        await session.execute(select(SyncRun.kind, SyncRun.status, func.count()).group_by(SyncRun.kind, SyncRun.status))
    ).all()
    seconds = func.extract("epoch", SyncRun.finished_at - SyncRun.started_at)
    durations = (
        await session.execute(
            select(
                SyncRun.kind,
                func.count(),
                func.coalesce(func.sum(seconds), 0),
                func.coalesce(func.sum(SyncRun.requests_made), 0),
                *(func.count().filter(seconds <= bound) for bound in DURATION_BUCKETS),
            )
            .where(SyncRun.finished_at.is_not(None), SyncRun.started_at.is_not(None))
            .group_by(SyncRun.kind)
        )
    ).all()
    # Read runs keep how their Wonde requests ended in counts["wonde_responses"] ({"200": n, ...}).
    tally = func.jsonb_each_text(SyncRun.counts["wonde_responses"]).table_valued("key", "value")
    responses = (
        await session.execute(
            select(tally.c.key, func.sum(tally.c.value.cast(Integer)))
            .select_from(SyncRun)
            .join(tally, SyncRun.counts.has_key("wonde_responses"))
            .group_by(tally.c.key)
        )
    ).all()
    changes = (
        await session.execute(
            select(ChangeRow.action, ChangeRow.status, func.count()).group_by(ChangeRow.action, ChangeRow.status)
        )
    ).all()
    return Measurement(
        at=at,
        runs=[(kind, status, count) for kind, status, count in runs],
        durations=[
            (kind, count, float(total), int(made), tuple(within)) for kind, count, total, made, *within in durations
        ],
        responses=[(status, int(count)) for status, count in responses],
        changes=[(action, status, count) for action, status, count in changes],
    )


class MeasurementCache:
    """One process's latest measurement, re-measured when a scrape finds it ``MAX_AGE`` old (by
    ``utc_now()``, so tests pin the clock). One scrape measures at a time; the others wait for it."""

    def __init__(self) -> None:
        self._latest: Measurement | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, now: datetime) -> Measurement | None:
        latest = self._latest
        # A clock that went backwards makes the measurement stale too.
        if latest is not None and latest.at <= now < latest.at + MAX_AGE:
            return latest
        return None

    async def get(self, sessionmaker: async_sessionmaker[AsyncSession]) -> Measurement:
        if (latest := self._fresh(utc_now())) is not None:
            return latest
        async with self._lock:
            now = utc_now()
            if (latest := self._fresh(now)) is not None:  # measured while this scrape waited
                return latest
            async with sessionmaker() as session:
                self._latest = await measure(session, now)
            return self._latest


_scrape_token = HTTPBearer(
    auto_error=False, scheme_name="MetricsToken", description="The scrape token, BANDSYNC_METRICS_TOKEN."
)


def require_scrape_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scrape_token)]
) -> None:
    """The configured token, compared in constant time; none configured: development only, else 404."""
    settings: Settings = request.app.state.settings
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else ""
    if not expected:  # (an empty token would match an empty header: it counts as none)
        if settings.environment == "development":
            return
        raise HTTPException(status_code=404)  # exactly as a path that is not served
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthenticated("A valid metrics scrape token is required.")


class _Snapshot(Collector):
    """A collector over families already measured for this one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def render(measured: Measurement, queued: int) -> bytes:
    families: list[Metric] = []
    by_outcome = CounterMetricFamily("bandsync_runs", "Runs by kind and status", labels=["kind", "status"])
    for kind, status, count in measured.runs:
        by_outcome.add_metric([kind, status], count)
    duration = HistogramMetricFamily(
        "bandsync_run_duration_seconds", "Duration of finished runs, from started_at to finished_at", labels=["kind"]
    )
    finished = CounterMetricFamily("bandsync_runs_finished", "Finished runs", labels=["kind"])
    requests = CounterMetricFamily("bandsync_wonde_requests", "HTTP requests made to Wonde by runs", labels=["kind"])
    for kind, count, total, made, within in measured.durations:
        buckets = [(str(bound), n) for bound, n in zip(DURATION_BUCKETS, within, strict=True)]
        duration.add_metric([kind], [*buckets, ("+Inf", count)], total)
        finished.add_metric([kind], count)
        requests.add_metric([kind], made)
    by_status = CounterMetricFamily(
        "bandsync_wonde_responses",
        "Wonde requests made by reads, by HTTP status, or timeout/error when no response came",
        labels=["status"],
    )
    for status, count in measured.responses:
        by_status.add_metric([status], count)
    journal = CounterMetricFamily(
        "bandsync_changes", "Journalled changes by action and status", labels=["action", "status"]
    )
    held = GaugeMetricFamily("bandsync_held_changes", "Changes waiting for an admin")
    held.add_metric([], sum(count for action, status, count in measured.changes if status == ChangeStatus.HELD))
    for action, status, count in measured.changes:
        journal.add_metric([action, status], count)
    depth = GaugeMetricFamily("bandsync_queue_depth", "Jobs waiting in the queue")
    depth.add_metric([], queued)
    families += [by_outcome, duration, finished, requests, by_status, journal, held, depth]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return generate_latest(registry)


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_scrape_token)],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}},
        401: {"model": ErrorResponse, "description": "The scrape token is missing or wrong."},
        404: {"model": ErrorResponse, "description": "No scrape token is configured (outside development)."},
    },
)
async def metrics(request: Request) -> Response:
    """Runs by kind and outcome, run durations, Wonde requests and responses, changes, held changes, queue depth.

    The counts are measured at most every 15 seconds; the queue depth is live. Send the scrape token
    as a bearer token; with none configured, this answers in development only."""
    state = request.app.state
    measured = await state.metrics.get(state.sessionmaker)
    queued = await state.queue.redis.zcard(state.queue.queue_name)
    return Response(render(measured, queued), media_type=CONTENT_TYPE_LATEST)
