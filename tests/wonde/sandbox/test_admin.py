"""The admin interface over HTTP: schools, dumps, clock, stats, reset and webhooks sent to a live receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from app.wonde.sandbox.server import serving
from app.wonde.sandbox.shapes import read_time
from tests.fixtures.sandbox import Sandbox, generated


class Receiver:
    """A webhook endpoint that records what it is sent and, like a careful app, checks an approval's
    token by calling the school back before answering."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.received: list[dict[str, Any]] = []
        self.checks: list[int] = []
        self.app = FastAPI()
        self.app.post("/wonde/webhook")(self.receive)

    async def receive(self, request: Request) -> dict[str, bool]:
        payload = await request.json()
        self.received.append(payload)
        if payload["payload_type"] == "schoolApproved":
            headers = {"Authorization": f"Bearer {payload['school_token']}"}
            async with httpx.AsyncClient(base_url=self.base_url, headers=headers) as client:
                self.checks.append((await client.get(f"/schools/{payload['school_id']}")).status_code)
        return {"stored": True}


@pytest.fixture
def receiver(sandbox: Sandbox) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(sandbox.server.base_url)
    with serving(receiver.app) as port:
        yield receiver, f"http://127.0.0.1:{port}/wonde/webhook?secret=abc"


def test_generate_list_and_dump(sandbox: Sandbox) -> None:
    made = sandbox.admin.post("/schools/generate", json={"phase": "primary", "pupils": 45, "seed": 9}).json()
    assert set(made) == {"school_id", "token", "urn", "name"} and len(made["token"]) == 40
    schools = {row["school_id"]: row for row in sandbox.admin.get("/schools").json()}
    assert made["urn"] == schools[made["school_id"]]["urn"] and made["urn"].isdigit()
    assert set(schools) == {sandbox.school_id, made["school_id"]}
    assert schools[made["school_id"]]["students"] == 45 and schools[made["school_id"]]["token"] == made["token"]
    dump = sandbox.admin.get(f"/schools/{made['school_id']}/dump").json()
    assert set(dump) == {"school", "students", "classes", "groups", "employees", "subjects", "deletions"}
    assert dump["school"]["region"]["domain"] == sandbox.server.domain
    assert sandbox.admin.get("/schools/A1/dump").status_code == 404
    assert sandbox.admin.post("/schools/generate", json={"phase": "nursery"}).status_code == 422


def test_load_a_dump(sandbox: Sandbox) -> None:
    dump = generated("primary", 30, 3)
    loaded = sandbox.admin.post("/schools/load", json=dump).json()
    assert loaded["school_id"] == dump["school"]["id"]
    headers = {"Authorization": f"Bearer {loaded['token']}"}
    students = httpx.get(f"{sandbox.server.base_url}/schools/{loaded['school_id']}/students", headers=headers)
    assert len(students.json()["data"]) == 30
    assert sandbox.admin.post("/schools/load", json={"students": []}).status_code == 422


def test_clock_stats_and_reset(sandbox: Sandbox) -> None:
    before = sandbox.state.clock.now().replace(microsecond=0)  # the answer shows whole seconds, as Wonde's do
    moved = read_time(sandbox.admin.post("/clock", json={"advance_seconds": 86400}).json()["now"])
    assert moved is not None and moved - before >= timedelta(days=1)
    sandbox.get("/students")
    assert sandbox.admin.get("/stats").json() == {"total": 1, "by_school": {sandbox.school_id: 1}}
    assert sandbox.admin.post("/reset").json() == {"reset": True}
    assert sandbox.admin.get("/schools").json() == [] and sandbox.state.clock.now() < moved
    assert sandbox.admin.get("/stats").json() == {"total": 0, "by_school": {}}


def test_school_approved_webhook_carries_a_working_token(sandbox: Sandbox, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    path = f"/schools/{sandbox.school_id}/webhook"
    sent = sandbox.admin.post(path, json={"url": url, "payload_type": "schoolApproved"}).json()
    assert sent["status"] == 200
    [payload] = target.received
    assert payload["payload_type"] == "schoolApproved" and payload["school_token"] == sandbox.token
    assert set(payload) == {
        "payload_type", "school_id", "school_name", "school_token", "school_la_code", "school_urn",
        "school_establishment_number",
    }  # fmt: skip
    assert target.checks == [200]


def test_revoked_then_approved_again_gets_a_new_token(sandbox: Sandbox, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    path = f"/schools/{sandbox.school_id}/webhook"
    old_token = sandbox.token
    assert sandbox.admin.post(path, json={"url": url, "payload_type": "accessRevoked"}).json()["status"] == 200
    assert target.received[0]["revoke_reason"] and sandbox.api.get(sandbox.path()).status_code == 401
    sandbox.admin.post(path, json={"url": url, "payload_type": "schoolApproved"})
    assert target.received[1]["school_token"] != old_token and target.checks == [200]


def test_school_migration_webhook(sandbox: Sandbox, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    path = f"/schools/{sandbox.school_id}/webhook"
    sandbox.admin.post(path, json={"url": url, "payload_type": "schoolMigration"})
    sandbox.admin.post(f"/schools/{sandbox.school_id}/events", json={"kind": "migration"})
    sandbox.admin.post(path, json={"url": url, "payload_type": "schoolMigration"})
    scheduled, done = target.received
    assert (scheduled["migrate_from"], scheduled["migrate_to"], scheduled["completed_at"]) == ("SIMS", "Arbor", None)
    assert (done["migrate_from"], done["migrate_to"]) == ("SIMS", "Arbor") and done["completed_at"]


def test_two_migrations_in_one_second_are_two_webhook_events(sandbox: Sandbox, receiver: tuple[Receiver, str]) -> None:
    """Wonde reports a migration's completion to the second; two migrations are never one payload (a
    receiver that stores each event once would take the second for a redelivery of the first)."""
    target, url = receiver
    path = f"/schools/{sandbox.school_id}/webhook"
    for _ in range(3):  # SIMS -> Arbor -> SIMS -> Arbor: the first and last move the same way
        sandbox.admin.post(f"/schools/{sandbox.school_id}/events", json={"kind": "migration"})
        sandbox.admin.post(path, json={"url": url, "payload_type": "schoolMigration"})
    first, _, last = target.received
    assert (first["migrate_from"], first["migrate_to"]) == (last["migrate_from"], last["migrate_to"])
    assert len({payload["completed_at"] for payload in target.received}) == 3


def test_an_unreachable_webhook_url_is_reported(sandbox: Sandbox) -> None:
    with serving(FastAPI()) as port:
        closed = f"http://127.0.0.1:{port}/gone"
    path = f"/schools/{sandbox.school_id}/webhook"
    sent = sandbox.admin.post(path, json={"url": closed, "payload_type": "accessRevoked"}).json()
    assert sent["status"] is None and "ConnectError" in sent["error"]
