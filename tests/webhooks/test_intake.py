"""Receiving Wonde webhooks over the API: the secret, storing before acknowledging, dedupe, bad bodies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings, WondeSettings
from app.kit.crypto import SecretBox
from app.kit.time import pinned
from app.main import create_app
from app.models import WebhookEvent
from tests.fixtures.database import savepoint_sessionmaker

SECRET = "s3cr3t+with/base64=="  # a "+" that form decoding would turn into a space
APPROVED = {
    "payload_type": "schoolApproved",
    "school_id": "A1234567890",
    "school_name": "Example Primary",
    "school_token": "0123456789abcdef0123456789abcdef01234567",
    "school_la_code": "873",
    "school_urn": "110999",
    "school_establishment_number": "2001",
}


@pytest.fixture
async def client(settings: Settings, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    custom = settings.model_copy(update={"wonde": WondeSettings(webhook_secret=SecretStr(SECRET))})
    app: FastAPI = create_app(custom)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = savepoint_sessionmaker(connection)
        # A server error is answered (500), as a real server would, rather than raised into the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


URL = "/v1/webhooks/wonde?secret=s3cr3t%2Bwith%2Fbase64%3D%3D"


async def _events(session: AsyncSession) -> list[WebhookEvent]:
    return list(await session.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at)))


async def test_a_wrong_or_missing_secret_stores_nothing(client: httpx.AsyncClient, session: AsyncSession) -> None:
    for url in (
        "/v1/webhooks/wonde",
        "/v1/webhooks/wonde?secret=nope",
        "/v1/webhooks/wonde?secret=s3cr3t%20with/base64==",
    ):
        response = await client.post(url, json=APPROVED)
        assert response.status_code == 401, url
        assert response.json()["error"] == "WrongWebhookSecret"
    assert await session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


async def test_an_event_is_stored_with_its_token_encrypted_and_only_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    first = await client.post(URL, json=APPROVED)
    assert first.status_code == 202
    assert first.json()["status"] == "received"
    again = await client.post(URL, content=json.dumps(APPROVED, indent=1), headers={"content-type": "application/json"})
    assert again.json() == {"id": None, "status": "duplicate"}
    [event] = await _events(session)
    assert (event.payload_type, event.wonde_school_id, event.status) == ("schoolApproved", "A1234567890", "received")
    assert "school_token" not in event.payload
    assert event.token_encrypted is not None
    assert APPROVED["school_token"].encode() not in event.token_encrypted
    assert SecretBox(settings.encryption_key).decrypt(event.token_encrypted) == APPROVED["school_token"]


async def test_the_secret_may_arrive_unescaped_with_its_plus(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks/wonde?secret=s3cr3t+with/base64==", json=APPROVED)
    assert response.status_code == 202


async def test_unknown_and_unreadable_events_are_stored_and_not_acted_on(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    unknown = await client.post(URL, json={"payload_type": "somethingNew", "school_id": "A1"})
    assert (unknown.status_code, unknown.json()["status"]) == (202, "ignored")
    broken = await client.post(
        URL, content=b'{"payload_type": "schoolApp', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["error"] == "UnreadableWebhook"
    statuses = {e.payload_type: e.status for e in await _events(session)}
    assert statuses == {"somethingNew": "ignored", "unreadable": "rejected"}


async def test_an_ignored_event_keeps_only_its_type_and_ids(client: httpx.AsyncClient, session: AsyncSession) -> None:
    """Nothing will ever act on it: what it carried besides its type and school is not kept (nor a token)."""
    body = {"payload_type": "writeback", "school_id": "A1", "school_name": "Oak", "school_token": "t" * 40, "x": [1]}
    response = await client.post(URL, json=body)
    assert (response.status_code, response.json()["status"]) == (202, "ignored")
    [event] = await _events(session)
    assert (event.payload, event.token_encrypted) == ({"payload_type": "writeback", "school_id": "A1"}, None)
    assert (
        event.dedupe_key == hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )


# Bodies that parse as JSON (or a form) but cannot be stored or acted on (issue 13, item 7).
UNSTORABLE = {
    "nul": (b'{"payload_type": "schoolApproved", "school_id": "A1\\u0000"}', "NUL"),
    "nul-key": (b'{"payload_type": "schoolApproved", "a\\u0000": 1}', "NUL"),
    "surrogate": (b'{"payload_type": "schoolApproved", "school_name": "\\ud800"}', "surrogate"),
    "nan": (b'{"payload_type": "schoolApproved", "score": NaN}', "number"),
    "infinity": (b'{"payload_type": "schoolApproved", "score": -Infinity}', "number"),
    "overflow": (b'{"payload_type": "schoolApproved", "score": 1e400}', "number"),
    "raw-surrogate": (b'{"payload_type": "schoolApproved", "school_name": "\xed\xa0\x80"}', "surrogate"),
    "deep-1100": (b'{"payload_type": "schoolApproved", "x": ' + b"[" * 1100 + b"]" * 1100 + b"}", "nested"),
    "deep-8000": (b'{"x": ' + b'{"x": ' * 8000 + b"1" + b"}" * 8001, "nested"),
}


@pytest.mark.parametrize("case", UNSTORABLE)
async def test_an_unstorable_body_is_unreadable_and_stored_rejected(
    client: httpx.AsyncClient, session: AsyncSession, case: str
) -> None:
    body, reason = UNSTORABLE[case]
    response = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text  # today: 500 (the database or the parser fails)
    assert response.json()["error"] == "UnreadableWebhook"
    [event] = await _events(session)
    assert (event.payload_type, event.status, event.payload) == (
        "unreadable",
        "rejected",
        {"unreadable_body_bytes": len(body)},
    )
    assert event.error is not None
    assert reason in event.error


async def test_a_form_with_a_nul_is_unreadable(client: httpx.AsyncClient, session: AsyncSession) -> None:
    response = await client.post(URL, data={"payload_type": "accessRevoked", "school_id": "A1\x00"})
    assert response.status_code == 400, response.text
    [event] = await _events(session)
    assert (event.status, event.payload_type) == ("rejected", "unreadable")


async def test_modest_nesting_and_unicode_are_still_read(client: httpx.AsyncClient, session: AsyncSession) -> None:
    nested = {**APPROVED, "school_name": "Ysgol Gymraeg Bro Wyn \U0001f600", "extra": {"a": [[[{"b": [1.5]}]]]}}
    response = await client.post(URL, json=nested)
    assert (response.status_code, response.json()["status"]) == (202, "received")
    [event] = await _events(session)
    assert event.payload["extra"] == {"a": [[[{"b": [1.5]}]]]}
    assert event.payload["school_name"].endswith("\U0001f600")


async def test_a_form_encoded_event_is_accepted(client: httpx.AsyncClient, session: AsyncSession) -> None:
    response = await client.post(URL, data={"payload_type": "accessRevoked", "school_id": "A1234567890"})
    assert response.json()["status"] == "received"
    [event] = await _events(session)
    assert event.payload["payload_type"] == "accessRevoked"


async def test_an_oversized_webhook_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json={"payload_type": "schoolApproved", "padding": "x" * 70_000})
    assert response.status_code == 413


async def test_the_secret_never_reaches_the_logs(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bandsync.access")
    await client.post(URL, json=APPROVED)
    lines = [r for r in caplog.records if r.name == "bandsync.access"]
    assert lines
    assert lines[-1].path == "/v1/webhooks/wonde"  # type: ignore[attr-defined]
    assert all("s3cr3t" not in r.getMessage() and "s3cr3t" not in str(r.__dict__) for r in lines)
    assert all(APPROVED["school_token"] not in str(r.__dict__) for r in caplog.records)


def test_brackets_inside_strings_are_not_nesting() -> None:
    from app.webhooks.intake import MAX_NESTING, Unreadable, parse_body  # imported here, so the module runs on main

    inside = '{"payload_type": "x", "a": "' + "[{" * 100 + '", "b": "\\\\", "c": "\\"' + "[" * 100 + '"}'
    assert parse_body(inside.encode(), "application/json")["a"] == "[{" * 100
    # The event object itself is the first level.
    deepest = MAX_NESTING - 1
    assert parse_body(b'{"a": ' + b"[" * deepest + b"]" * deepest + b"}", "application/json")
    with pytest.raises(Unreadable, match="nested deeper"):
        parse_body(b'{"a": ' + b"[" * (deepest + 1) + b"]" * (deepest + 1) + b"}", "application/json")
    # An unterminated string of escaped quotes is read once, not once per quote.
    with pytest.raises(Unreadable, match="not JSON"):
        parse_body(b'{"a": "' + b'\\"' * 30_000, "application/json")


MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REVOKED = {"payload_type": "accessRevoked", "school_id": "A1234567890", "revoke_reason": "Access was revoked."}


async def _deliver_at(client: httpx.AsyncClient, payload: Mapping[str, object], at: datetime) -> dict[str, object]:
    with pinned(at):
        response = await client.post(URL, json=payload)
    assert response.status_code == 202, response.text
    answer: dict[str, object] = response.json()
    return answer


async def test_the_same_payload_within_the_window_is_a_redelivery(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (await _deliver_at(client, REVOKED, MORNING))["status"] == "received"
    for later in (timedelta(minutes=1), timedelta(minutes=9, seconds=59)):
        assert await _deliver_at(client, REVOKED, MORNING + later) == {"id": None, "status": "duplicate"}
    assert [e.payload_type for e in await _events(session)] == ["accessRevoked"]


async def test_the_same_payload_after_the_window_is_stored_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await _deliver_at(client, REVOKED, MORNING)
    later = await _deliver_at(client, REVOKED, MORNING + timedelta(minutes=10, seconds=1))
    assert (first["status"], later["status"]) == ("received", "received")
    assert first["id"] != later["id"]
    assert [(e.payload_type, e.status) for e in await _events(session)] == [
        ("accessRevoked", "received"),
        ("accessRevoked", "received"),
    ]


async def test_the_window_is_a_setting(settings: Settings, connection: AsyncConnection, session: AsyncSession) -> None:
    wonde = WondeSettings(webhook_secret=SecretStr(SECRET), redelivery_window_seconds=60)
    app: FastAPI = create_app(settings.model_copy(update={"wonde": wonde}))
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = savepoint_sessionmaker(connection)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as short:
            assert (await _deliver_at(short, REVOKED, MORNING))["status"] == "received"
            assert (await _deliver_at(short, REVOKED, MORNING + timedelta(seconds=59)))["status"] == "duplicate"
            assert (await _deliver_at(short, REVOKED, MORNING + timedelta(minutes=2)))["status"] == "received"
    assert len(await _events(session)) == 2


async def test_the_same_revocation_after_an_approval_is_stored_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Revoked, approved, revoked: Wonde's second revocation has the first one's body, within minutes."""
    assert (await _deliver_at(client, REVOKED, MORNING))["status"] == "received"
    assert (await _deliver_at(client, APPROVED, MORNING + timedelta(minutes=1)))["status"] == "received"
    assert (await _deliver_at(client, REVOKED, MORNING + timedelta(minutes=2)))["status"] == "received"
    # ... and a redelivery of that second revocation is a redelivery again.
    assert (await _deliver_at(client, REVOKED, MORNING + timedelta(minutes=3)))["status"] == "duplicate"
    assert [e.payload_type for e in await _events(session)] == ["accessRevoked", "schoolApproved", "accessRevoked"]
