from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import Change, School, SyncRun


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
            Change(
                school_id=school.id,
                run_id=run.id,
                entity_type="pupil",
                entity_id="p",
                action="rename_pupil",
                status="applied",
            ),
            Change(
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
