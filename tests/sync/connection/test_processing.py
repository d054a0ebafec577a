"""Acting on stored Wonde events against the sandbox over real HTTP: approval is verified with the
supplied token before anything changes, and read only from a Wonde school with the registered URN (else it
waits for the platform to confirm or reject it); revocation and decline disconnect; migration is noted;
consent given or withdrawn again is acted on again, a true redelivery once."""

from __future__ import annotations

import hashlib
import json
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
from app.sync.mirror.flow import run_read
from app.webhooks.intake import store_event
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from app.wonde.sandbox.webhook import webhook_payload
from tests.fixtures.app import TokenFactory
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


def _urn(sandbox: SandboxServer, wonde_school: str) -> str | None:
    """The URN the sandbox's school carries: the one the app registers it with."""
    return sandbox.state.school(wonde_school).urn


async def _school(committed: Committed, wonde_school: str, urn: str | None) -> str:
    school_id = committed.track(f"hook-{uuid.uuid4().hex[:8]}")
    async with committed.sessionmaker() as session:
        session.add(School(id=school_id, name="Hook Primary", urn=urn, wonde_school_id=wonde_school))
        await session.commit()
    return school_id


async def _deliver(
    committed: Committed, box: SecretBox, wonde: WondeClient, payload: dict[str, Any]
) -> tuple[str, str]:
    async with unit_of_work(committed.sessionmaker, None) as session:
        stored = await store_event(session, json.dumps(payload).encode(), "application/json", box)
    status = await process_event(committed.sessionmaker, None, wonde, box, uuid.UUID(stored.event_id))
    return stored.event_id, status


async def test_an_approval_verified_with_its_token_connects_the_school_and_queues_a_read(
    committed: Committed, box: SecretBox, wonde: WondeClient, sandbox: SandboxServer, wonde_school: str
) -> None:
    school_id = await _school(committed, wonde_school, _urn(sandbox, wonde_school))
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
    school_id = await _school(committed, wonde_school, _urn(sandbox, wonde_school))
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


async def test_an_event_acted_on_keeps_only_its_type_and_ids_and_no_token(
    committed: Committed, box: SecretBox, wonde: WondeClient, sandbox: SandboxServer, wonde_school: str
) -> None:
    """Rejected (a wrong token; a school nobody expects) or processed (approval, migration, revocation),
    an event keeps its type, its Wonde school and its dedupe key; its token and the rest of its body
    (school name, URN, reasons) are dropped when it is acted on."""
    approved = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    deliveries = [
        (approved, "rejected"),  # before the school is registered
        (approved | {"school_token": "f" * 40}, "rejected"),  # a token that opens nothing
        (approved, "processed"),
        ({"payload_type": "schoolMigration", "school_id": wonde_school, "migrate_from": "SIMS"}, "processed"),
        ({"payload_type": "accessRevoked", "school_id": wonde_school, "revoke_reason": "x"}, "processed"),
    ]
    for number, (payload, status) in enumerate(deliveries):
        if number == 1:
            await _school(committed, wonde_school, _urn(sandbox, wonde_school))
        event_id, acted = await _deliver(committed, box, wonde, payload)
        assert acted == status, payload
        async with committed.sessionmaker() as session:
            event = await session.get(WebhookEvent, uuid.UUID(event_id))
        assert event is not None
        assert (event.status, event.payload, event.token_encrypted) == (
            status,
            {"payload_type": payload["payload_type"], "school_id": wonde_school},
            None,
        )
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        assert event.dedupe_key == hashlib.sha256(body).hexdigest()


async def _linked_school(
    committed: Committed, box: SecretBox, wonde_school: str, urn: str | None
) -> tuple[str, uuid.UUID, uuid.UUID]:
    school_id = await _school(committed, wonde_school, urn)
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
    school_id, band_id, pupil_id = await _linked_school(committed, box, wonde_school, "100001")
    payload = {"payload_type": payload_type, "school_id": wonde_school, "revoke_reason": "x"}
    with pinned(MORNING):
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
    assert (school.state, school.wonde_token_encrypted, school.consent_ended_at) == ("disconnected", None, MORNING)
    assert (band.mis_class_id, pupil.mis_student_id, pupil.archived_at, members) == (None, None, None, 1)
    assert sorted(c.action for c in journal) == ["unlink_band", "unlink_pupil"]
    assert all(c.before and any(c.before.values()) for c in journal)


async def test_a_migration_is_noted(
    committed: Committed, box: SecretBox, wonde: WondeClient, wonde_school: str
) -> None:
    school_id = await _school(committed, wonde_school, "100001")
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
    school_id, _, _ = await _linked_school(committed, box, wonde_school, _urn(sandbox, wonde_school))
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
    school_id, _, _ = await _linked_school(committed, box, wonde_school, _urn(sandbox, wonde_school))
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

    school_id = await _school(committed, wonde_school, _urn(sandbox, wonde_school))
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
    school_id = await _school(committed, wonde_school, _urn(sandbox, wonde_school))
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


# -- an approval from a Wonde school without the registered URN waits for the platform ------------------
async def _runs(committed: Committed, school_id: str) -> list[tuple[str, str, str]]:
    async with committed.sessionmaker() as session:
        runs = await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id).order_by(SyncRun.created_at))
        return [(run.kind, run.trigger, run.status) for run in runs]


async def _school_row(committed: Committed, school_id: str) -> School:
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
    assert school is not None
    return school


def _new_approval(sandbox: SandboxServer, wonde_school: str) -> dict[str, Any]:
    """Wonde's approval with a token of its own (the school revoked and approved again)."""
    webhook_payload(sandbox.state, wonde_school, "accessRevoked")
    return webhook_payload(sandbox.state, wonde_school, "schoolApproved")


@pytest.mark.parametrize("registered", ["999999", None])
async def test_an_approval_from_a_school_without_the_registered_urn_reads_nothing_until_confirmed(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    auth: TokenFactory,
    registered: str | None,
) -> None:
    """The capture the URN stops: a tenant bound to another school's Wonde id gets none of its records."""
    school_id = await _school(committed, wonde_school, registered)
    payload = webhook_payload(sandbox.state, wonde_school, "schoolApproved")
    assert (await _deliver(committed, box, wonde, payload))[1] == "processed"
    school = await _school_row(committed, school_id)
    wonde_urn = _urn(sandbox, wonde_school)
    assert (school.state, school.urn, school.wonde_urn) == ("needs_confirmation", registered, wonde_urn)
    assert school.wonde_token_encrypted is not None
    assert box.decrypt(school.wonde_token_encrypted) == payload["school_token"]  # kept for the confirmation
    assert await _runs(committed, school_id) == []
    shown = (await api.get(f"/v1/schools/{school_id}", headers=auth(role="platform"))).json()
    assert (shown["state"], shown["urn"], shown["wonde_urn"]) == ("needs_confirmation", registered, wonde_urn)

    merge = await api.post(f"/v1/schools/{school_id}/uploader/merge", headers=auth(school_id))
    assert (merge.status_code, merge.json()["error"]) == (409, "AwaitingConfirmation")
    assert (await api.post(f"/v1/schools/{school_id}/sync", headers=auth(school_id))).status_code == 409
    async with committed.sessionmaker() as session:
        read = SyncRun(school_id=school_id, kind="full_read", trigger="manual", status="queued")
        session.add(read)
        await session.commit()
    assert await run_read(committed.sessionmaker, wonde, box, read.id) == "failed"
    async with committed.sessionmaker() as session:
        failed = await session.get(SyncRun, read.id)
        mirrored = await session.scalar(
            select(func.count()).select_from(MisStudent).where(MisStudent.school_id == school_id)
        )
    assert failed is not None and failed.error is not None
    assert failed.failure_code == "awaiting_confirmation"
    assert "waiting for the platform to confirm" in failed.error
    assert (failed.requests_made, mirrored) == (0, 0)


async def test_the_platform_confirms_and_the_school_is_read_under_wondes_urn(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    auth: TokenFactory,
) -> None:
    school_id = await _school(committed, wonde_school, "999999")
    await _deliver(committed, box, wonde, webhook_payload(sandbox.state, wonde_school, "schoolApproved"))
    confirmed = await api.post(f"/v1/schools/{school_id}/approval/confirm", headers=auth(role="platform"))
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["state"], body["urn"], body["wonde_urn"]) == ("approved", _urn(sandbox, wonde_school), None)
    assert await _runs(committed, school_id) == [("full_read", "manual", "queued")]
    again = await api.post(f"/v1/schools/{school_id}/approval/confirm", headers=auth(role="platform"))
    assert (again.status_code, again.json()["error"]) == (409, "NoApprovalWaiting")
    assert "approved" in again.json()["detail"]


async def test_the_platform_rejects_and_the_wonde_school_can_be_bound_to_its_own_tenant(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    auth: TokenFactory,
) -> None:
    captor = await _school(committed, wonde_school, "999999")
    await _deliver(committed, box, wonde, webhook_payload(sandbox.state, wonde_school, "schoolApproved"))
    rejected = await api.post(f"/v1/schools/{captor}/approval/reject", headers=auth(role="platform"))
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["state"], rejected.json()["wonde_school_id"]) == ("pending", None)
    school = await _school_row(committed, captor)
    assert (school.wonde_token_encrypted, school.wonde_domain, school.wonde_urn) == (None, None, None)
    assert await _runs(committed, captor) == []

    owner = committed.track(f"own-{uuid.uuid4().hex[:8]}")
    registration = {
        "id": owner,
        "name": "Own Primary",
        "urn": _urn(sandbox, wonde_school),
        "wonde_school_id": wonde_school,
    }
    assert (await api.post("/v1/schools", json=registration, headers=auth(role="platform"))).status_code == 201
    assert (await _deliver(committed, box, wonde, _new_approval(sandbox, wonde_school)))[1] == "processed"
    assert (await _school_row(committed, owner)).state == "approved"
    assert await _runs(committed, owner) == [("full_read", "webhook", "queued")]


async def test_an_approval_matching_the_urn_the_platform_corrected_reads_the_school(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    auth: TokenFactory,
) -> None:
    school_id = await _school(committed, wonde_school, "999999")
    await _deliver(committed, box, wonde, webhook_payload(sandbox.state, wonde_school, "schoolApproved"))
    corrected = await api.patch(
        f"/v1/schools/{school_id}", json={"urn": _urn(sandbox, wonde_school)}, headers=auth(role="platform")
    )
    assert corrected.status_code == 200, corrected.text
    assert (await _deliver(committed, box, wonde, _new_approval(sandbox, wonde_school)))[1] == "processed"
    school = await _school_row(committed, school_id)
    assert (school.state, school.wonde_urn) == ("approved", None)
    assert await _runs(committed, school_id) == [("full_read", "webhook", "queued")]


@pytest.mark.parametrize("answer", ["confirm", "reject"])
async def test_a_school_that_synced_before_urns_waits_then_resumes_or_is_disconnected(
    committed: Committed,
    box: SecretBox,
    wonde: WondeClient,
    sandbox: SandboxServer,
    wonde_school: str,
    api: httpx.AsyncClient,
    auth: TokenFactory,
    answer: str,
) -> None:
    """A school registered before URNs (none stored) that syncs: its next approval waits too."""
    school_id, band_id, pupil_id = await _linked_school(committed, box, wonde_school, None)
    assert (await _deliver(committed, box, wonde, _new_approval(sandbox, wonde_school)))[1] == "processed"
    assert (await _school_row(committed, school_id)).state == "needs_confirmation"
    assert await _runs(committed, school_id) == []
    response = await api.post(f"/v1/schools/{school_id}/approval/{answer}", headers=auth(role="platform"))
    assert response.status_code == 200, response.text
    async with committed.sessionmaker() as session:
        band, pupil = await session.get(Band, band_id), await session.get(Pupil, pupil_id)
    assert band is not None and pupil is not None
    if answer == "confirm":
        assert response.json()["state"] == "syncing"
        assert await _runs(committed, school_id) == [("reconcile", "manual", "queued")]
        assert band.mis_class_id is not None
    else:
        assert (response.json()["state"], response.json()["wonde_school_id"]) == ("disconnected", None)
        assert await _runs(committed, school_id) == [("disconnect", "manual", "succeeded")]
        assert (band.mis_class_id, pupil.mis_student_id, pupil.archived_at) == (None, None, None)
