"""Undo is not silently redone (issue 17, item 4): the changes an undo reverted are held at the next sync
until the admin decides; the undo says so. Approving redoes them; rejecting keeps the undo's state, and
later syncs leave them alone while the MIS still says the same thing, but follow the MIS once it changes.

Against the sandbox; the undo and the decisions through the API, the syncs in-process."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.kit.crypto import SecretBox
from app.models import ChangeRow, Pupil
from app.sync.reconcile.flow import run_sync
from app.wonde.client import WondeClient
from app.wonde.sandbox.dump import export_dump
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.database import Committed
from tests.fixtures.schools import account_of, mis_event, new_run, onboarded, sync, synced_bands_of

pytestmark = pytest.mark.slow


async def _pupil(committed: Committed, school_id: str, wonde_id: str) -> Pupil:
    pupil = await account_of(committed.sessionmaker, school_id, wonde_id)
    assert pupil is not None, wonde_id
    return pupil


async def _names(committed: Committed, pupil_id: uuid.UUID) -> tuple[str, str]:
    async with committed.sessionmaker() as session:
        pupil = await session.get(Pupil, pupil_id)
    assert pupil is not None
    return pupil.first_name, pupil.last_name


async def _held_count(committed: Committed, school_id: str) -> int:
    async with committed.sessionmaker() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(ChangeRow)
            .where(ChangeRow.school_id == school_id, ChangeRow.action == "held")
        )
    return int(found or 0)


async def _synced_then_undone(
    committed: Committed,
    wonde: WondeClient,
    box: SecretBox,
    client: httpx.AsyncClient,
    auth: Any,
    school_id: str,
) -> dict[str, Any]:
    """A sync of what happened in the MIS, then the admin undoes it (through the API): the undo's answer."""
    run_id = await new_run(committed.sessionmaker, school_id, "reconcile")
    assert await run_sync(committed.sessionmaker, None, wonde, box, run_id) == "succeeded"
    undone = await client.post(f"/v1/schools/{school_id}/runs/{run_id}/undo", headers=auth(school_id))
    assert undone.status_code == 200, undone.text
    return undone.json()  # type: ignore[no-any-return]


async def test_the_next_sync_holds_what_an_undo_reverted_and_the_undo_says_so(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    committing_client: httpx.AsyncClient,
    auth: Any,
) -> None:
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=80, name="Undo Primary")
    student = export_dump(sandbox.state, wonde_school)["students"][0]["id"]
    pupil = await _pupil(committed, school_id, student)
    named = await _names(committed, pupil.id)
    mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": student, "forename": "Undone"})
    undo = await _synced_then_undone(committed, wonde, box, committing_client, auth, school_id)
    assert await _names(committed, pupil.id) == named

    counts = await sync(committed.sessionmaker, wonde, box, school_id)
    assert await _names(committed, pupil.id) == named, "the next sync redid the rename the admin had undone"
    assert counts["held"] == 1, counts
    assert undo["counts"]["held_at_next_sync"] == 1, undo["counts"]
    assert (
        undo["notice"]
        == "1 change this undo reverted will wait for your decision if the next sync would make it again."
    )
    groups = (
        await committing_client.get(f"/v1/schools/{school_id}/held-changes/grouped", headers=auth(school_id))
    ).json()
    [group] = groups
    assert (group["pupil_id"], [c["change"]["type"] for c in group["changes"]]) == (str(pupil.id), ["RenamePupil"])
    assert group["reasons"] == ["undone by an admin: approve to make the change again, reject to keep it undone"]
    # Still waiting: the sync after holds it still, and does not hold it twice.
    assert (await sync(committed.sessionmaker, wonde, box, school_id))["held"] == 1
    assert await _names(committed, pupil.id) == named
    assert await _held_count(committed, school_id) == 1


async def test_approving_redoes_and_a_rejection_lasts_until_the_mis_changes_again(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    committing_client: httpx.AsyncClient,
    auth: Any,
) -> None:
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=80, name="Undo Primary")
    first, second = (s["id"] for s in export_dump(sandbox.state, wonde_school)["students"][:2])
    redone, kept = await _pupil(committed, school_id, first), await _pupil(committed, school_id, second)
    kept_names = await _names(committed, kept.id)
    mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": first, "forename": "Redone"})
    mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": second, "forename": "Refused"})
    moved = mis_event_move(sandbox, wonde_school, second)
    bands_before = await synced_bands_of(committed.sessionmaker, kept.id)
    await _synced_then_undone(committed, wonde, box, committing_client, auth, school_id)
    counts = await sync(committed.sessionmaker, wonde, box, school_id)
    assert (await _names(committed, redone.id))[0] != "Redone", "the next sync redid the undone rename"
    assert counts["held"] >= 2 + (2 if moved else 0), counts

    decided = await committing_client.post(
        f"/v1/schools/{school_id}/held-changes/decide",
        json={"approve": [f"pupil:{redone.id}"], "reject": [f"pupil:{kept.id}"]},
        headers=auth(school_id),
    )
    assert decided.status_code == 200, decided.text
    assert (await _names(committed, redone.id))[0] == "Redone"
    assert await _names(committed, kept.id) == kept_names
    held = await _held_count(committed, school_id)

    # The MIS still says the same: later syncs neither redo the rejected changes nor hold them again.
    for _ in range(2):
        again = await sync(committed.sessionmaker, wonde, box, school_id)
        assert again == {"held": 0, "pupils_created": 0}, again
        assert await _names(committed, kept.id) == kept_names
        assert await synced_bands_of(committed.sessionmaker, kept.id) == bands_before
        assert await _held_count(committed, school_id) == held

    # The MIS changes again: the sync follows it.
    mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": second, "forename": "Renamed"})
    await sync(committed.sessionmaker, wonde, box, school_id)
    assert (await _names(committed, kept.id))[0] == "Renamed"
    assert await _held_count(committed, school_id) == held


def mis_event_move(sandbox: SandboxServer, wonde_school: str, student: str) -> bool:
    """Move the pupil to another class of one of their subjects, when they have one."""
    try:
        mis_event(sandbox, wonde_school, {"kind": "move", "student_id": student})
    except ValueError:
        return False
    return True
