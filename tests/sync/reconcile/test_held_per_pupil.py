"""Held changes are held and decided per pupil (issue 17, item 3): a leaver is two held rows (archive,
remove from band), and no decision may take one without the other; deciding many pupils is one run.

Against the sandbox, through the API; the school holds every removal (thresholds at zero)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.kit.crypto import SecretBox
from app.models import Pupil, School, SyncRun
from app.wonde.client import WondeClient
from app.wonde.sandbox.dump import export_dump
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.database import Committed
from tests.fixtures.schools import account_of, mis_event, onboarded, sync, synced_bands_of

pytestmark = pytest.mark.slow
SOMEONE = "8f3e3c7e-0000-4000-8000-000000000000"


@pytest.fixture
async def strict_school(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, box: SecretBox
) -> tuple[str, str]:
    """A syncing sandbox school that holds every removal for the admin: (our id, Wonde's id)."""
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=80, name="Held Primary")
    async with committed.sessionmaker() as session:
        await session.execute(update(School).where(School.id == school_id).values(hold_min_pupils=0, hold_fraction=0))
        await session.commit()
    return school_id, wonde_school


async def _pupil(committed: Committed, school_id: str, wonde_id: str) -> Pupil:
    pupil = await account_of(committed.sessionmaker, school_id, wonde_id)
    assert pupil is not None, wonde_id
    return pupil


async def _decision_runs(committed: Committed, school_id: str) -> int:
    """Runs an admin's decisions were journalled under (manual reconciles that read nothing)."""
    async with committed.sessionmaker() as session:
        runs = list(
            await session.scalars(
                select(SyncRun).where(
                    SyncRun.school_id == school_id, SyncRun.kind == "reconcile", SyncRun.trigger == "manual"
                )
            )
        )
    return sum(1 for run in runs if "read_run_id" not in run.progress)


def _students(sandbox: SandboxServer, wonde_school: str, count: int) -> list[str]:
    return [s["id"] for s in export_dump(sandbox.state, wonde_school)["students"][:count]]


async def _held(client: httpx.AsyncClient, auth: Any, school_id: str, pupil_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = (await client.get(f"/v1/schools/{school_id}/held-changes", headers=auth(school_id))).json()
    return [row for row in rows if row["change"].get("pupil") == str(pupil_id)]


async def test_a_leavers_held_changes_are_decided_together(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    committing_client: httpx.AsyncClient,
    auth: Any,
    strict_school: tuple[str, str],
) -> None:
    """Approving the leaver's archive and rejecting their removal from the band left an archived pupil
    in a band. A decision on one of a pupil's held changes is a decision on all of them: the second
    decision finds them decided (409), and the pupil is archived and in no synced band."""
    school_id, wonde_school = strict_school
    [leaver] = _students(sandbox, wonde_school, 1)
    pupil = await _pupil(committed, school_id, leaver)
    mis_event(sandbox, wonde_school, {"kind": "leaver", "student_id": leaver})
    await sync(committed.sessionmaker, wonde, box, school_id)
    held = await _held(committing_client, auth, school_id, pupil.id)
    kinds = {row["change"]["type"]: row["id"] for row in held}
    assert {"ArchivePupil", "RemoveFromBand"} <= kinds.keys(), held

    base = f"/v1/schools/{school_id}/held-changes"
    approved = await committing_client.post(f"{base}/{kinds['ArchivePupil']}/approve", headers=auth(school_id))
    assert approved.status_code == 200, approved.text
    rejected = await committing_client.post(f"{base}/{kinds['RemoveFromBand']}/reject", headers=auth(school_id))

    after = await _pupil(committed, school_id, leaver)
    in_bands = await synced_bands_of(committed.sessionmaker, pupil.id)
    assert after.archived_at is None or not in_bands, f"an archived pupil is still in the synced bands {in_bands}"
    assert after.archived_at is not None, "approving the archive left the leaver live"
    assert (rejected.status_code, rejected.json()["error"]) == (409, "ChangeAlreadyDecided"), rejected.text
    assert await _held(committing_client, auth, school_id, pupil.id) == []


async def test_rejecting_every_held_change_is_one_run(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    committing_client: httpx.AsyncClient,
    auth: Any,
    strict_school: tuple[str, str],
) -> None:
    """Reject-all journalled no run at all; approve-all one. Every decision is one run, whatever it covers."""
    school_id, wonde_school = strict_school
    for leaver in _students(sandbox, wonde_school, 3):
        mis_event(sandbox, wonde_school, {"kind": "leaver", "student_id": leaver})
    await sync(committed.sessionmaker, wonde, box, school_id)
    before = await _decision_runs(committed, school_id)
    rejected = await committing_client.post(f"/v1/schools/{school_id}/held-changes/reject-all", headers=auth(school_id))
    assert rejected.status_code == 200, rejected.text
    assert len(rejected.json()) >= 6
    assert await _decision_runs(committed, school_id) == before + 1


async def test_some_pupils_approved_and_others_rejected_in_one_run(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    committing_client: httpx.AsyncClient,
    auth: Any,
    strict_school: tuple[str, str],
) -> None:
    """The held changes are listed per pupil; one request approves some pupils and rejects others, and
    is one run: the approved leavers are archived and out of their bands, the rejected ones untouched."""
    school_id, wonde_school = strict_school
    leavers = _students(sandbox, wonde_school, 4)
    pupils = [await _pupil(committed, school_id, leaver) for leaver in leavers]
    for leaver in leavers:
        mis_event(sandbox, wonde_school, {"kind": "leaver", "student_id": leaver})
    await sync(committed.sessionmaker, wonde, box, school_id)
    base = f"/v1/schools/{school_id}/held-changes"

    listed = await committing_client.get(f"{base}/grouped", headers=auth(school_id))
    assert listed.status_code == 200, listed.text
    groups = {group["pupil_id"]: group for group in listed.json()}
    assert set(groups) == {str(p.id) for p in pupils}
    for pupil in pupils:
        group = groups[str(pupil.id)]
        assert group["id"] == f"pupil:{pupil.id}"
        assert group["name"] == f"{pupil.first_name} {pupil.last_name}"
        assert {c["change"]["type"] for c in group["changes"]} >= {"ArchivePupil", "RemoveFromBand"}
        assert group["reasons"]

    before = await _decision_runs(committed, school_id)
    approve, reject = [f"pupil:{p.id}" for p in pupils[:2]], [f"pupil:{p.id}" for p in pupils[2:]]
    decided = await committing_client.post(
        f"{base}/decide", json={"approve": approve, "reject": reject}, headers=auth(school_id)
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert await _decision_runs(committed, school_id) == before + 1
    assert body["run"]["counts"]["approved"] >= 4 and body["run"]["counts"]["rejected"] >= 4, body["run"]
    assert {c["status"] for c in body["changes"]} == {"applied", "rejected"}
    for pupil in pupils[:2]:
        assert (await _pupil(committed, school_id, leavers[pupils.index(pupil)])).archived_at is not None
        assert await synced_bands_of(committed.sessionmaker, pupil.id) == set()
    for pupil in pupils[2:]:
        assert (await _pupil(committed, school_id, leavers[pupils.index(pupil)])).archived_at is None
        assert await synced_bands_of(committed.sessionmaker, pupil.id) != set()
    assert (await committing_client.get(f"{base}/grouped", headers=auth(school_id))).json() == []
    async with committed.sessionmaker() as session:
        runs = await session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.school_id == school_id))
    again = await committing_client.post(f"{base}/decide", json={"approve": approve}, headers=auth(school_id))
    assert (again.status_code, again.json()["error"]) == (404, "HeldGroupNotFound"), again.text
    async with committed.sessionmaker() as session:
        assert (
            await session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.school_id == school_id))
            == runs
        )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"approve": []},
        {"approve": ["pupil:not-a-uuid"]},
        {"approve": ["nobody:1"]},
        {"approve": [f"pupil:{SOMEONE}"], "reject": [f"pupil:{SOMEONE}"]},
    ],
)
async def test_a_decision_names_pupils_once_and_well(
    client: httpx.AsyncClient, auth: Any, school: School, body: dict[str, Any]
) -> None:
    response = await client.post(f"/v1/schools/{school.id}/held-changes/decide", json=body, headers=auth(school.id))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "ValidationError"
