"""Acting on stored Wonde events against the sandbox over real HTTP: approval is verified with the
supplied token before anything changes; revocation and decline disconnect; migration is noted; consent
given or withdrawn again is acted on again, a true redelivery once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.time import pinned
from app.kit.unit_of_work import unit_of_work
from app.main import create_app
from app.models import (
    Band,
    BandMembership,
    ChangeRow,
    MisClass,
    MisStudent,
    Pupil,
    School,
    SyncRun,
    WebhookEvent,
)
from app.models.school import SchoolState
from app.sync.connection.flow import process_event
from app.webhooks.intake import store_event
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from app.wonde.sandbox.webhook import webhook_payload
from tests.fixtures.database import Committed

pytestmark = pytest.mark.wonde(attempts=1)


@pytest.fixture
async def wonde_school(sandbox: SandboxServer, committed: Committed) -> AsyncIterator[str]:
    """A fresh sandbox school; the events stored about it are removed afterwards."""
    seed = uuid.uuid4().int % 1_000_000
    async with httpx.AsyncClient() as admin:
        generated = await admin.post(
            f"{sandbox.admin_url}/schools/generate", json={"phase": "primary", "pupils": 30, "seed": seed}
        )
    school_id: str = generated.json()["school_id"]
    yield school_id
    async with committed.sessionmaker() as session:
        await session.execute(delete(WebhookEvent).where(WebhookEvent.wonde_school_id == school_id))
        await session.commit()


async def _school(committed: Committed, wonde_school: str) -> str:
    school_id = committed.track(f"hook-{uuid.uuid4().hex[:8]}")
    async with committed.sessionmaker() as session:
        session.add(School(id=school_id, name="Hook Primary", wonde_school_id=wonde_school))
        await session.commit()
    return school_id


async def _deliver(
    committed: Committed, box: SecretBox, wonde: WondeClient, payload: dict[str, Any]
) -> tuple[str, str]:
    import json

    async with unit_of_work(committed.sessionmaker, None) as session:
        stored = await store_event(session, json.dumps(payload).encode(), "application/json", box)
    status = await process_event(committed.sessionmaker, None, wonde, box, uuid.UUID(stored.event_id))
    return stored.event_id, status


async def test_an_approval_verified_with_its_token_connects_the_school_and_queues_a_read(
    committed: Committed, box: SecretBox, wonde: WondeClient, sandbox: SandboxServer, wonde_school: str
) -> None:
    school_id = await _school(committed, wonde_school)
    payload = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    event_id, status = await _deliver(committed, box, wonde, payload)
    assert status == "processed"
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        runs = list(await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id)))
        event = await session.get(WebhookEvent, uuid.UUID(event_id))
    assert school is not None
    assert school.state == "approved"
    assert school.wonde_domain == sandbox.domain
    assert school.wonde_token_encrypted is not None
    assert box.decrypt(school.wonde_token_encrypted) == payload["school_token"]
    assert [(r.kind, r.trigger, r.status) for r in runs] == [("full_read", "webhook", "queued")]
    assert event is not None
    assert event.school_id == school_id
    # Acting on it again changes nothing.
    assert await process_event(committed.sessionmaker, None, wonde, box, uuid.UUID(event_id)) == "processed"


async def test_an_approval_with_a_wrong_token_is_rejected_and_changes_nothing(
    committed: Committed, box: SecretBox, wonde: WondeClient, sandbox: SandboxServer, wonde_school: str
) -> None:
    school_id = await _school(committed, wonde_school)
    payload = webhook_payload(sandbox.state, wonde_school, "schoolApproved") | {"school_token": "f" * 40}
    event_id, status = await _deliver(committed, box, wonde, payload)
    assert status == "rejected"
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        event = await session.get(WebhookEvent, uuid.UUID(event_id))
        runs = await session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.school_id == school_id))
    assert school is not None
    assert (school.state, school.wonde_token_encrypted, runs) == ("pending", None, 0)
    assert event is not None
    assert event.error is not None
    assert "does not open this school" in event.error


async def test_an_approval_for_a_school_nobody_expects_is_rejected(
    committed: Committed, box: SecretBox, wonde: WondeClient, sandbox: SandboxServer, wonde_school: str
) -> None:
    payload = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    event_id, status = await _deliver(committed, box, wonde, payload)
    assert status == "rejected"
    async with committed.sessionmaker() as session:
        event = await session.get(WebhookEvent, uuid.UUID(event_id))
    assert event is not None
    assert event.error == f"no school here is waiting for Wonde school {wonde_school}"


async def _linked_school(committed: Committed, box: SecretBox, wonde_school: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    school_id = await _school(committed, wonde_school)
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        assert school is not None
        school.state, school.wonde_token_encrypted = SchoolState.SYNCING, box.encrypt("token")
        student = MisStudent(school_id=school_id, wonde_id="S1", forename="Amy", surname="Jones")
        mis_class = MisClass(school_id=school_id, wonde_id="C1", name="4B")
        session.add_all([student, mis_class])
        await session.flush()
        band = Band(school_id=school_id, name="4B", mis_class_id=mis_class.id)
        pupil = Pupil(
            school_id=school_id, first_name="Amy", last_name="Jones", username="amy.jones", mis_student_id=student.id
        )
        session.add_all([band, pupil])
        await session.flush()
        session.add(BandMembership(band_id=band.id, pupil_id=pupil.id, school_id=school_id, source="mis"))
        await session.commit()
        return school_id, band.id, pupil.id


@pytest.mark.parametrize("payload_type", ["accessRevoked", "accessDeclined"])
async def test_revocation_disconnects_and_keeps_every_account(
    committed: Committed, box: SecretBox, wonde: WondeClient, wonde_school: str, payload_type: str
) -> None:
    school_id, band_id, pupil_id = await _linked_school(committed, box, wonde_school)
    payload = {"payload_type": payload_type, "school_id": wonde_school, "revoke_reason": "x"}
    _, status = await _deliver(committed, box, wonde, payload)
    assert status == "processed"
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        band = await session.get(Band, band_id)
        pupil = await session.get(Pupil, pupil_id)
        members = await session.scalar(
            select(func.count()).select_from(BandMembership).where(BandMembership.band_id == band_id)
        )
        journal = list(await session.scalars(select(ChangeRow).where(ChangeRow.school_id == school_id)))
    assert school is not None
    assert band is not None
    assert pupil is not None
    assert (school.state, school.wonde_token_encrypted) == ("disconnected", None)
    assert (band.mis_class_id, pupil.mis_student_id, pupil.archived_at, members) == (None, None, None, 1)
    assert sorted(c.action for c in journal) == ["unlink_band", "unlink_pupil"]
    assert all(c.before and any(c.before.values()) for c in journal)


async def test_a_migration_is_noted(
    committed: Committed, box: SecretBox, wonde: WondeClient, wonde_school: str
) -> None:
    school_id = await _school(committed, wonde_school)
    payload = {
        "payload_type": "schoolMigration",
        "school_id": wonde_school,
        "migrate_from": "SIMS",
        "migrate_to": "Arbor",
    }
    _, status = await _deliver(committed, box, wonde, payload)
    assert status == "processed"
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
    assert school is not None
    assert school.migrating_since is not None


async def test_a_new_token_arriving_while_a_sync_is_queued_is_kept_and_the_event_processed(
    committed: Committed, box: SecretBox, wonde: WondeClient, sandbox: SandboxServer, wonde_school: str
) -> None:
    """A re-approval queues a catch-up sync; when one is already queued, that one stands in for it.
    The new token must not be rolled back with the refused second sync (it was, and the event was left
    unprocessed for good)."""
    school_id, _, _ = await _linked_school(committed, box, wonde_school)
    async with committed.sessionmaker() as session:
        queued = SyncRun(school_id=school_id, kind="reconcile", trigger="manual", status="queued")
        session.add(queued)
        await session.commit()
    webhook_payload(sandbox.state, wonde_school, "accessRevoked")  # so the approval brings a new token
    payload = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    event_id, status = await _deliver(committed, box, wonde, payload)
    assert status == "processed"
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        event = await session.get(WebhookEvent, uuid.UUID(event_id))
        runs = list(await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id)))
    assert school is not None
    assert school.wonde_token_encrypted is not None
    assert box.decrypt(school.wonde_token_encrypted) == payload["school_token"] != "token"
    assert event is not None
    assert (event.status, event.error) == ("processed", None)
    assert [(r.id, r.status) for r in runs] == [(queued.id, "queued")]


# -- consent given and withdrawn again, through the webhook endpoint and the worker ----------------------
MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def api(live_settings: Settings, committed: Committed) -> AsyncIterator[httpx.AsyncClient]:
    """The webhook endpoint, committing for real (the worker reads what it stored)."""
    app = create_app(live_settings)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = committed.sessionmaker
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client


async def _post(api: httpx.AsyncClient, settings: Settings, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Wonde delivers ``payload`` at ``at``; the endpoint's answer."""
    with pinned(at):
        response = await api.post(
            f"/v1/webhooks/wonde?secret={settings.wonde.webhook_secret.get_secret_value()}", json=payload
        )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _work(committed: Committed, box: SecretBox, wonde: WondeClient, answer: dict[str, Any], at: datetime) -> str:
    """The worker acts on the stored event (as ``process_webhook`` does)."""
    assert answer["status"] == "received", answer
    with pinned(at):
        return await process_event(committed.sessionmaker, None, wonde, box, uuid.UUID(answer["id"]))


async def _state(committed: Committed, school_id: str) -> str:
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
    assert school is not None
    return school.state


async def _stored(committed: Committed, wonde_school: str) -> list[tuple[str, str]]:
    async with committed.sessionmaker() as session:
        rows = await session.execute(
            select(WebhookEvent.payload_type, WebhookEvent.status)
            .where(WebhookEvent.wonde_school_id == wonde_school)
            .order_by(WebhookEvent.created_at)
        )
    return [(payload_type, status) for payload_type, status in rows]


async def test_revoke_reapprove_and_revoke_again_leaves_the_school_disconnected(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    live_settings: Settings,
) -> None:
    """The second revocation carries the very body of the first (Wonde's payload has no time): it is
    consent withdrawn again, not a redelivery, and must disconnect the re-approved school."""
    school_id, _, _ = await _linked_school(committed, box, wonde_school)
    revoked = webhook_payload(sandbox.state, wonde_school, "accessRevoked")
    answer = await _post(api, live_settings, revoked, MORNING)
    assert await _work(committed, box, wonde, answer, MORNING) == "processed"
    assert await _state(committed, school_id) == "disconnected"

    approved = webhook_payload(sandbox.state, wonde_school, "schoolApproved")  # a new token after a revoke
    answer = await _post(api, live_settings, approved, MORNING + timedelta(minutes=2))
    assert await _work(committed, box, wonde, answer, MORNING + timedelta(minutes=2)) == "processed"
    assert await _state(committed, school_id) == "approved"

    again = webhook_payload(sandbox.state, wonde_school, "accessRevoked")
    assert again == revoked
    answer = await _post(api, live_settings, again, MORNING + timedelta(minutes=4))
    assert await _work(committed, box, wonde, answer, MORNING + timedelta(minutes=4)) == "processed"
    assert await _state(committed, school_id) == "disconnected"
    assert await _stored(committed, wonde_school) == [
        ("accessRevoked", "processed"),
        ("schoolApproved", "processed"),
        ("accessRevoked", "processed"),
    ]


async def test_an_approval_received_before_the_school_was_registered_approves_it_when_redelivered(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    live_settings: Settings,
) -> None:
    approved = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    answer = await _post(api, live_settings, approved, MORNING)
    assert await _work(committed, box, wonde, answer, MORNING) == "rejected"  # nobody expects it yet

    school_id = await _school(committed, wonde_school)
    answer = await _post(api, live_settings, approved, MORNING + timedelta(minutes=3))
    assert await _work(committed, box, wonde, answer, MORNING + timedelta(minutes=3)) == "processed"
    assert await _state(committed, school_id) == "approved"
    async with committed.sessionmaker() as session:
        runs = list(await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id)))
    assert [(r.kind, r.trigger) for r in runs] == [("full_read", "webhook")]
    assert await _stored(committed, wonde_school) == [("schoolApproved", "rejected"), ("schoolApproved", "processed")]


async def test_a_true_redelivery_is_stored_once_and_acted_on_once(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    live_settings: Settings,
) -> None:
    school_id = await _school(committed, wonde_school)
    approved = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    answer = await _post(api, live_settings, approved, MORNING)
    assert await _work(committed, box, wonde, answer, MORNING) == "processed"
    for minutes in (1, 5, 9):  # Wonde sends it again, within the window, before and after it was acted on
        again = await _post(api, live_settings, approved, MORNING + timedelta(minutes=minutes))
        assert again == {"id": None, "status": "duplicate"}
    assert await _state(committed, school_id) == "approved"
    async with committed.sessionmaker() as session:
        runs = list(await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id)))
    assert [(r.kind, r.trigger) for r in runs] == [("full_read", "webhook")]
    assert await _stored(committed, wonde_school) == [("schoolApproved", "processed")]
