"""A school that is not connected to Wonde is neither merged nor synced (issue 17, item 1).

After Disconnect, the merge used to be accepted and succeed: the school went back to ``syncing`` with
no Wonde token, and every sync after it failed "not connected". Now merge and "sync now" are refused
(409, naming the state), a second Disconnect is refused rather than made a new run, and a merge or sync
job that reaches a worker after the disconnect fails with its own code and leaves the school as it is.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError
from app.kit.crypto import SecretBox
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.sync.onboarding.flow import run_merge
from app.sync.onboarding.service import start_merge
from app.sync.reconcile.flow import run_sync
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.schools import decide, new_run, onboarded, small_school

DISCONNECTED = {
    "error": "SchoolDisconnected",
    "detail": "The school is disconnected from Wonde; connect it again first (it approves the app in Wonde again).",
}


async def _state_and_runs(committed: Committed, school_id: str) -> tuple[str, int]:
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        runs = await session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.school_id == school_id))
    assert school is not None
    return str(school.state), int(runs or 0)


async def test_a_disconnected_school_is_not_merged_synced_or_disconnected_again(
    live_client: httpx.AsyncClient,
    auth: TokenFactory,
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
) -> None:
    school_id, _ = await onboarded(committed, sandbox, wonde, box, pupils=40)
    headers = auth(school_id)
    disconnected = await live_client.post(f"/v1/schools/{school_id}/disconnect", headers=headers)
    assert disconnected.status_code == 200, disconnected.text
    before = await _state_and_runs(committed, school_id)
    assert before[0] == "disconnected"

    merge = await live_client.post(f"/v1/schools/{school_id}/uploader/merge", headers=headers)
    assert (merge.status_code, merge.json()) == (409, DISCONNECTED), merge.text
    sync = await live_client.post(f"/v1/schools/{school_id}/sync", headers=headers)
    assert (sync.status_code, sync.json()) == (409, DISCONNECTED), sync.text
    again = await live_client.post(f"/v1/schools/{school_id}/disconnect", headers=headers)
    assert (again.status_code, again.json()) == (
        409,
        {"error": "SchoolDisconnected", "detail": "The school is already disconnected from Wonde."},
    ), again.text
    # Refused means unchanged: still disconnected, and no run was added.
    assert await _state_and_runs(committed, school_id) == before


async def test_a_merge_or_sync_job_after_a_disconnect_fails_and_leaves_the_school_disconnected(
    live_client: httpx.AsyncClient,
    auth: TokenFactory,
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
) -> None:
    """The runs were accepted before the disconnect (their jobs still on the queue): each fails with
    ``disconnected`` when a worker reaches it, and the school stays disconnected."""
    school_id, _ = await onboarded(committed, sandbox, wonde, box, pupils=40)
    disconnected = await live_client.post(f"/v1/schools/{school_id}/disconnect", headers=auth(school_id))
    assert disconnected.status_code == 200, disconnected.text
    # (Wonde's access is revoked by a job of its own, not run here: the token is still stored.)
    merge_run = await new_run(committed.sessionmaker, school_id, "merge")
    assert await run_merge(committed.sessionmaker, box, merge_run) == "failed"
    sync_run = await new_run(committed.sessionmaker, school_id, "reconcile")
    assert await run_sync(committed.sessionmaker, None, wonde, box, sync_run) == "failed"
    async with committed.sessionmaker() as session:
        runs = {run_id: await session.get(SyncRun, run_id) for run_id in (merge_run, sync_run)}
        school = await session.get(School, school_id)
    assert school is not None
    assert school.state == "disconnected"
    assert [(r.status, r.failure_code) for r in runs.values() if r] == [("failed", "disconnected")] * 2


async def test_a_school_never_connected_is_not_merged(session: AsyncSession) -> None:
    """A school whose approval was rejected goes back to ``pending`` with its mirror and decisions still
    there; merging it would make it ``syncing`` with no Wonde token."""
    small = await small_school(session)
    school = await session.get(School, small.school_id)
    assert school is not None
    school.state = SchoolState.PENDING
    session.add_all([decide(small, small.form, "match", small.band), decide(small, small.other_form, "import")])
    await session.flush()
    with pytest.raises(AppError) as refused:
        await start_merge(session, small.school_id, "admin")
    assert refused.value.status_code == 409
    assert refused.value.error == "SchoolNotConnected"
    assert refused.value.detail == "The school is not connected to Wonde yet: it must approve the app in Wonde first."
