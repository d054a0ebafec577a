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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Integer, func, select

from app.models import ChangeRow, ChangeStatus, SyncRun

router = APIRouter(tags=["health"])

# Upper bounds (seconds) of the run duration buckets: a delta read takes seconds, a first read or a
# merge of a large school minutes, a read slowed by Wonde's rate limits up to an hour.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class _Snapshot(Collector):
    """A collector over families already measured for this one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request) -> Response:
    """Runs by kind and outcome, run durations, Wonde requests and responses, changes, held changes, queue depth."""
    state = request.app.state
    async with state.sessionmaker() as session:
        runs = (
            await session.execute(
                select(SyncRun.kind, SyncRun.status, func.count()).group_by(SyncRun.kind, SyncRun.status)
            )
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
    queued = await state.queue.redis.zcard(state.queue.queue_name)

    families: list[Metric] = []
    by_outcome = CounterMetricFamily("bandsync_runs", "Runs by kind and status", labels=["kind", "status"])
    for kind, status, count in runs:
        by_outcome.add_metric([kind, status], count)
    duration = HistogramMetricFamily(
        "bandsync_run_duration_seconds", "Duration of finished runs, from started_at to finished_at", labels=["kind"]
    )
    finished = CounterMetricFamily("bandsync_runs_finished", "Finished runs", labels=["kind"])
    requests = CounterMetricFamily("bandsync_wonde_requests", "HTTP requests made to Wonde by runs", labels=["kind"])
    for kind, count, total, made, *within in durations:
        buckets = [(str(bound), n) for bound, n in zip(DURATION_BUCKETS, within, strict=True)]
        duration.add_metric([kind], [*buckets, ("+Inf", count)], float(total))
        finished.add_metric([kind], count)
        requests.add_metric([kind], int(made))
    by_status = CounterMetricFamily(
        "bandsync_wonde_responses",
        "Wonde requests made by reads, by HTTP status, or timeout/error when no response came",
        labels=["status"],
    )
    for status, count in responses:
        by_status.add_metric([status], int(count))
    journal = CounterMetricFamily(
        "bandsync_changes", "Journalled changes by action and status", labels=["action", "status"]
    )
    held = GaugeMetricFamily("bandsync_held_changes", "Changes waiting for an admin")
    held.add_metric([], sum(count for action, status, count in changes if status == ChangeStatus.HELD))
    for action, status, count in changes:
        journal.add_metric([action, status], count)
    depth = GaugeMetricFamily("bandsync_queue_depth", "Jobs waiting in the queue")
    depth.add_metric([], queued)
    families += [by_outcome, duration, finished, requests, by_status, journal, held, depth]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
