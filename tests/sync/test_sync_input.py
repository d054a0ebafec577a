"""The daily sync's bad input: refused clearly, nothing changed."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChangeRow, School, SyncRun
from tests.conftest import TokenFactory


async def test_sync_now_needs_a_syncing_school(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    response = await client.post(f"/v1/schools/{school.id}/sync", headers=auth(school.id))
    assert (response.status_code, response.json()["error"]) == (409, "NotSyncing")


async def test_a_held_change_is_decided_once(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    run = SyncRun(school_id=school.id, kind="reconcile", trigger="manual", status="succeeded")
    session.add(run)
    await session.flush()
    held = ChangeRow(
        school_id=school.id,
        run_id=run.id,
        entity_type="band",
        entity_id="x",
        action="held",
        status="held",
        after={
            "change": {"type": "UnlinkBand", "band": "00000000-0000-0000-0000-000000000000", "container": "C"},
            "reason": "r",
        },
    )
    session.add(held)
    await session.commit()
    base = f"/v1/schools/{school.id}/held-changes/{held.id}"
    first = await client.post(f"{base}/reject", headers=auth(school.id))
    assert (first.status_code, first.json()["status"]) == (200, "rejected")
    again = await client.post(f"{base}/approve", headers=auth(school.id))
    assert (again.status_code, again.json()["error"]) == (409, "ChangeAlreadyDecided")
    no_suggestion = await client.post(f"{base}/accept-suggestion", headers=auth(school.id))
    assert no_suggestion.status_code == 409
    missing = await client.post(f"/v1/schools/{school.id}/held-changes/999999/approve", headers=auth(school.id))
    assert (missing.status_code, missing.json()["error"]) == (404, "HeldChangeNotFound")
