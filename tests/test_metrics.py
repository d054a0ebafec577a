from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import ChangeRow, School, SyncRun


async def test_metrics_count_runs_changes_and_the_queue(
    client: httpx.AsyncClient, school: School, session: AsyncSession
) -> None:
    now = utc_now()
    run = SyncRun(
        school_id=school.id,
        kind="reconcile",
        trigger="manual",
        status="succeeded",
        started_at=now,
        finished_at=now,
        requests_made=7,
    )
    session.add(run)
    await session.flush()
    session.add_all(
        [
            ChangeRow(
                school_id=school.id,
                run_id=run.id,
                entity_type="pupil",
                entity_id="p",
                action="rename_pupil",
                status="applied",
            ),
            ChangeRow(
                school_id=school.id, run_id=run.id, entity_type="pupil", entity_id="q", action="held", status="held"
            ),
        ]
    )
    await session.commit()
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'bandsync_runs_total{kind="reconcile",status="succeeded"}' in text
    assert 'bandsync_wonde_requests_total{kind="reconcile"} 7.0' in text
    assert 'bandsync_changes_total{action="rename_pupil",status="applied"}' in text
    assert "bandsync_held_changes 1.0" in text
    assert "bandsync_queue_depth" in text
    assert school.name not in text


async def test_run_durations_are_a_histogram_by_kind(
    client: httpx.AsyncClient, school: School, session: AsyncSession
) -> None:
    now = utc_now()
    for seconds in (0.5, 10, 700):
        session.add(
            SyncRun(
                school_id=school.id,
                kind="merge",
                trigger="manual",
                status="succeeded",
                started_at=now - timedelta(seconds=seconds),
                finished_at=now,
            )
        )
    session.add(SyncRun(school_id=school.id, kind="merge", trigger="manual", status="running", started_at=now))
    await session.commit()
    text = (await client.get("/metrics")).text
    assert "# TYPE bandsync_run_duration_seconds histogram" in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="1.0"} 1.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="5.0"} 1.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="15.0"} 2.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="600.0"} 2.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="1800.0"} 3.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="+Inf"} 3.0' in text
    assert 'bandsync_run_duration_seconds_count{kind="merge"} 3.0' in text  # the running one is not counted
    assert 'bandsync_run_duration_seconds_sum{kind="merge"} 710.5' in text


async def test_wonde_responses_are_counted_by_status_across_reads(
    client: httpx.AsyncClient, school: School, session: AsyncSession
) -> None:
    session.add_all(
        [
            SyncRun(
                school_id=school.id,
                kind="full_read",
                trigger="manual",
                status="succeeded",
                counts={"students": {"inserted": 3}, "wonde_responses": {"200": 12, "429": 2}},
            ),
            SyncRun(
                school_id=school.id,
                kind="delta_read",
                trigger="schedule",
                status="failed",
                counts={"wonde_responses": {"200": 1, "500": 4, "timeout": 1}},
            ),
            SyncRun(school_id=school.id, kind="merge", trigger="manual", status="succeeded", counts={"pupils": 2}),
        ]
    )
    await session.commit()
    text = (await client.get("/metrics")).text
    assert "# TYPE bandsync_wonde_responses_total counter" in text
    assert 'bandsync_wonde_responses_total{status="200"} 13.0' in text
    assert 'bandsync_wonde_responses_total{status="429"} 2.0' in text
    assert 'bandsync_wonde_responses_total{status="500"} 4.0' in text
    assert 'bandsync_wonde_responses_total{status="timeout"} 1.0' in text
    assert 'status="401"' not in text
