"""Prometheus ``/metrics``, read from the database and the queue at scrape time.

Runs, changes and Wonde requests are rows in tables that are never deleted from, so counts read from
them are true counters across every API and worker process without a shared metrics store. Names and
tokens never appear: only kinds, statuses and numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.models import Change, SyncRun

router = APIRouter(tags=["health"])


class _Snapshot(Collector):
    """A collector over families already measured for this one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request) -> Response:
    """Runs by kind and outcome, run durations, Wonde requests, changes by type, held changes, queue depth."""
    state = request.app.state
    async with state.sessionmaker() as session:
        runs = (
            await session.execute(
                select(SyncRun.kind, SyncRun.status, func.count()).group_by(SyncRun.kind, SyncRun.status)
            )
        ).all()
        durations = (
            await session.execute(
                select(
                    SyncRun.kind,
                    func.count(),
                    func.coalesce(func.sum(func.extract("epoch", SyncRun.finished_at - SyncRun.started_at)), 0),
                    func.coalesce(func.sum(SyncRun.requests_made), 0),
                )
                .where(SyncRun.finished_at.is_not(None), SyncRun.started_at.is_not(None))
                .group_by(SyncRun.kind)
            )
        ).all()
        changes = (
            await session.execute(
                select(Change.action, Change.status, func.count()).group_by(Change.action, Change.status)
            )
        ).all()
    queued = await state.queue.redis.zcard(state.queue.queue_name)

    families: list[Metric] = []
    by_outcome = CounterMetricFamily("bandsync_runs", "Runs by kind and status", labels=["kind", "status"])
    for kind, status, count in runs:
        by_outcome.add_metric([kind, status], count)
    duration = CounterMetricFamily("bandsync_run_duration_seconds", "Time spent in finished runs", labels=["kind"])
    finished = CounterMetricFamily("bandsync_runs_finished", "Finished runs", labels=["kind"])
    requests = CounterMetricFamily("bandsync_wonde_requests", "HTTP requests made to Wonde by runs", labels=["kind"])
    for kind, count, seconds, made in durations:
        duration.add_metric([kind], float(seconds))
        finished.add_metric([kind], count)
        requests.add_metric([kind], int(made))
    journal = CounterMetricFamily(
        "bandsync_changes", "Journalled changes by action and status", labels=["action", "status"]
    )
    held = GaugeMetricFamily("bandsync_held_changes", "Changes waiting for an admin")
    held.add_metric([], sum(count for action, status, count in changes if status == "held"))
    for action, status, count in changes:
        journal.add_metric([action, status], count)
    depth = GaugeMetricFamily("bandsync_queue_depth", "Jobs waiting in the queue")
    depth.add_metric([], queued)
    families += [by_outcome, duration, finished, requests, journal, held, depth]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
