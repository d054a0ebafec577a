"""The daily sync's bad input: refused clearly (the error's name and what it tells the admin), nothing
changed."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChangeRow, School, SyncRun
from app.models.school import SchoolState
from tests.fixtures.app import TokenFactory

DECIDED = {"error": "ChangeAlreadyDecided", "detail": "This change was already applied or rejected."}


async def test_sync_now_needs_a_syncing_school(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    """Refused, naming why: first the Wonde connection (here: never connected), then the merge."""
    response = await client.post(f"/v1/schools/{school.id}/sync", headers=auth(school.id))
    assert response.status_code == 409
    assert response.json() == {
        "error": "SchoolNotConnected",
        "detail": "The school is not connected to Wonde yet: it must approve the app in Wonde first.",
    }
    school.state = SchoolState.APPROVED
    await session.commit()
    response = await client.post(f"/v1/schools/{school.id}/sync", headers=auth(school.id))
    assert response.status_code == 409
    assert response.json() == {
        "error": "NotSyncing",
        "detail": "The school is not syncing: finish onboarding (merge) first.",
    }
    assert list(await session.scalars(select(SyncRun).where(SyncRun.school_id == school.id))) == []


async def _held(session: AsyncSession, school: School, run: SyncRun, band: str) -> ChangeRow:
    """A held "this synced class vanished" with no suggested class to follow instead."""
    held = ChangeRow(
        school_id=school.id,
        run_id=run.id,
        entity_type="band",
        entity_id="x",
        action="held",
        status="held",
        after={"change": {"type": "UnlinkBand", "band": band, "container": "C"}, "reason": "r"},
    )
    session.add(held)
    await session.flush()
    return held


async def test_a_held_change_is_decided_once(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    run = SyncRun(school_id=school.id, kind="reconcile", trigger="manual", status="succeeded")
    session.add(run)
    await session.flush()
    held = await _held(session, school, run, "00000000-0000-0000-0000-000000000000")
    waiting = await _held(session, school, run, "00000000-0000-0000-0000-000000000001")
    await session.commit()
    school_id, run_id, held_id, waiting_id = school.id, run.id, held.id, waiting.id
    base = f"/v1/schools/{school_id}/held-changes/{held_id}"
    first = await client.post(f"{base}/reject", headers=auth(school.id))
    assert (first.status_code, first.json()["status"]) == (200, "rejected")
    # The rejection is a run of its own (every decision is one run); the refusals below add none.
    decided_runs = list(await session.scalars(select(SyncRun.id).where(SyncRun.school_id == school_id)))
    assert len(decided_runs) == 2
    again = await client.post(f"{base}/approve", headers=auth(school.id))
    assert (again.status_code, again.json()) == (409, DECIDED)
    decided = await client.post(f"{base}/accept-suggestion", headers=auth(school.id))
    assert (decided.status_code, decided.json()) == (409, DECIDED)
    no_suggestion = await client.post(
        f"/v1/schools/{school.id}/held-changes/{waiting_id}/accept-suggestion", headers=auth(school.id)
    )
    assert (no_suggestion.status_code, no_suggestion.json()) == (
        409,
        {"error": "NoSuggestion", "detail": "This held change has no suggested class to follow instead."},
    )
    missing = await client.post(f"/v1/schools/{school.id}/held-changes/999999/approve", headers=auth(school.id))
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "HeldChangeNotFound", "detail": "No held change with this id in the school."},
    )
    # Refused means unchanged: the rejected change stays rejected, the other still waits, no run was added.
    session.expire_all()
    statuses = dict(
        (await session.execute(select(ChangeRow.id, ChangeRow.status).where(ChangeRow.run_id == run_id))).all()
    )
    assert statuses == {held_id: "rejected", waiting_id: "held"}
    runs = list(await session.scalars(select(SyncRun.id).where(SyncRun.school_id == school_id)))
    assert sorted(runs) == sorted(decided_runs)
