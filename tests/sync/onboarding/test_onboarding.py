"""Onboarding end to end, over real HTTP to the Wonde sandbox and real workers:
webhook -> approved -> full read -> uploader suggestions -> decisions -> resolve -> preview -> merge."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.config import Settings
from app.kit.logging import JsonFormatter
from app.main import create_app
from app.models import Band, BandMembership, ChangeRow, MisStudent, Pupil, School, SyncRun
from app.wonde.sandbox.server import SandboxServer
from app.wonde.sandbox.webhook import webhook_payload
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.worker import run_burst_worker
from workers import jobs

JOBS = [jobs.process_webhook, jobs.read_school, jobs.merge_school]


@pytest.fixture
async def client(live_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(live_settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _forms(dump_students: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    forms: dict[str, list[dict[str, Any]]] = {}
    for student in dump_students:
        for group in student["groups"]["data"]:
            if group["type"] == "REGISTRATION":
                forms.setdefault(group["name"], []).append(student)
    return forms


async def test_onboarding_end_to_end(
    client: httpx.AsyncClient,
    live_settings: Settings,
    sandbox: SandboxServer,
    committed: Committed,
    auth: TokenFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Keep pytest's log capture in place when the workers start (they configure logging on start-up).
    monkeypatch.setattr("workers.context.configure_logging", lambda _: None)
    caplog.set_level("INFO")
    async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
        wonde_school = (
            await admin.post("/schools/generate", json={"phase": "primary", "pupils": 120, "seed": 21})
        ).json()
        dump = (await admin.get(f"/schools/{wonde_school['school_id']}/dump")).json()
    forms = _forms(dump["students"])
    matched_form, untouched_form, imported_form = sorted(forms)[:3]
    school_id = committed.track(f"onb-{uuid.uuid4().hex[:8]}")
    headers = auth(school_id)

    # The school exists in the app with two bands and an app-only club, before any Wonde link.
    created = await client.post(
        "/v1/schools",
        json={
            "id": school_id,
            "name": "Onboarding Primary",
            "urn": wonde_school["urn"],
            "wonde_school_id": wonde_school["school_id"],
        },
        headers=auth(role="platform"),
    )
    assert created.status_code == 201, created.text
    rows = ["pupil_id,first_name,last_name,band,year_group"]
    for band, form in (("Class " + matched_form, matched_form), ("Class " + untouched_form, untouched_form)):
        rows += [f"app-{s['id']},{s['forename']},{s['surname']},{band}," for s in forms[form]]
    rows += [f"club-{i},Club,Member{chr(97 + i)},Chess Club," for i in range(3)]
    imported = await client.post(
        f"/v1/schools/{school_id}/roster",
        content="\n".join(rows) + "\n",
        headers={**headers, "content-type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text

    # Connect: Wonde's approval arrives, is verified, and a full read follows.
    payload = webhook_payload(sandbox.state, wonde_school["school_id"], "schoolApproved")
    secret = live_settings.wonde.webhook_secret.get_secret_value()
    hook = await client.post(f"/v1/webhooks/wonde?secret={secret}", json=payload)
    assert hook.status_code == 202
    await run_burst_worker(live_settings, JOBS)
    await run_burst_worker(live_settings, JOBS)  # the read queued by the approval
    school = (await client.get(f"/v1/schools/{school_id}", headers=headers)).json()
    assert school["state"] == "approved"
    assert school["last_full_read_at"] is not None

    # The uploader suggests the two bands for their forms.
    view = (await client.get(f"/v1/schools/{school_id}/uploader", headers=headers)).json()
    # A primary's form is both a class and a registration group; the class is the one bands follow.
    by_name = {row["name"]: row for row in view if row["kind"] == "group"} | {
        row["name"]: row for row in view if row["kind"] == "class"
    }
    bands = {
        b["name"]: b["id"]
        for b in (await client.get(f"/v1/schools/{school_id}/bands", headers=headers)).json()["items"]
    }
    suggestion = by_name[matched_form]["suggestion"]
    assert suggestion["status"] == "auto"
    assert suggestion["band_id"] == bands["Class " + matched_form]

    # Decisions: match one, leave one alone, import a third.
    choices: list[tuple[str, str, str | None]] = [
        (matched_form, "match", bands["Class " + matched_form]),
        (untouched_form, "no_action", None),
        (imported_form, "import", None),
    ]
    for form, action, band_id in choices:
        body = {"action": action} | ({"band_id": band_id} if band_id else {})
        decided = await client.put(
            f"/v1/schools/{school_id}/uploader/classes/{by_name[form]['wonde_class_id']}", json=body, headers=headers
        )
        assert decided.status_code == 200, decided.text
    clash = await client.put(
        f"/v1/schools/{school_id}/uploader/classes/{by_name[untouched_form]['wonde_class_id']}",
        json={"action": "match", "band_id": bands["Class " + matched_form]},
        headers=headers,
    )
    assert clash.status_code == 409

    # Resolve whatever the matcher left for a person.
    issues = (await client.get(f"/v1/schools/{school_id}/uploader/issues", headers=headers)).json()
    for student in issues["students"]:
        if student["merge_will"] == "wait for your decision":
            await client.put(
                f"/v1/schools/{school_id}/uploader/pupils/{student['wonde_student_id']}",
                json={"resolution": "create"},
                headers=headers,
            )
    preview = (await client.get(f"/v1/schools/{school_id}/uploader/preview", headers=headers)).json()
    assert preview["unresolved"] == 0
    assert preview["counts"]["bands_created"] == 1
    assert preview["counts"]["pupils_created"] >= len(forms[imported_form])

    # Merge, and follow the run.
    queued = await client.post(f"/v1/schools/{school_id}/uploader/merge", headers=headers)
    assert queued.status_code == 202, queued.text
    again = await client.post(f"/v1/schools/{school_id}/uploader/merge", headers=headers)
    assert again.status_code == 409  # one merge at a time
    await run_burst_worker(live_settings, JOBS)
    run = (await client.get(f"/v1/schools/{school_id}/runs/{queued.json()['id']}", headers=headers)).json()
    assert run["status"] == "succeeded", run["error"]

    async with committed.sessionmaker() as session:
        scoped = {s["id"] for s in forms[matched_form] + forms[imported_form]}
        links = dict(
            (
                await session.execute(
                    select(MisStudent.wonde_id, func.count(Pupil.id))
                    .join(Pupil, Pupil.mis_student_id == MisStudent.id)
                    .where(Pupil.school_id == school_id)
                    .group_by(MisStudent.wonde_id)
                )
            ).all()
        )
        assert {w: links.get(w, 0) for w in scoped} == dict.fromkeys(scoped, 1)  # each linked exactly once
        untouched = (
            await session.scalars(
                select(Band).where(Band.school_id == school_id, Band.name == "Class " + untouched_form)
            )
        ).one()
        club = (await session.scalars(select(Band).where(Band.school_id == school_id, Band.name == "Chess Club"))).one()
        assert (untouched.mis_class_id, untouched.mis_group_id, club.mis_class_id, club.mis_group_id) == (
            None,
            None,
            None,
            None,
        )
        club_size = await session.scalar(
            select(func.count()).select_from(BandMembership).where(BandMembership.band_id == club.id)
        )
        assert club_size == 3
        assert (await session.get(School, school_id)).state == "syncing"  # type: ignore[union-attr]
        # What runs journalled (the downloads below are journalled too, as audit entries with no run).
        journal = await session.scalar(
            select(func.count())
            .select_from(ChangeRow)
            .where(ChangeRow.school_id == school_id, ChangeRow.run_id.is_not(None))
        )
        pupils = await session.scalar(select(func.count()).select_from(Pupil).where(Pupil.school_id == school_id))

    # Login details: as CSV, again as often as needed, until confirmed; then a 409.
    credentials = f"/v1/schools/{school_id}/runs/{queued.json()['id']}/credentials"
    login = await client.get(credentials, headers=headers)
    details = list(csv.DictReader(io.StringIO(login.text)))
    assert len(details) == run["counts"]["pupils_created"]
    assert all(len(d["password"]) >= 6 for d in details)
    assert list(csv.DictReader(io.StringIO((await client.get(credentials, headers=headers)).text))) == details
    confirmed = await client.post(f"{credentials}/confirm", headers=headers)
    assert confirmed.json()["confirmed"] == len(details)
    assert (await client.get(credentials, headers=headers)).status_code == 409

    # A second merge finds nothing left to do.
    second = await client.post(f"/v1/schools/{school_id}/uploader/merge", headers=headers)
    assert second.status_code == 202
    await run_burst_worker(live_settings, JOBS)
    rerun = (await client.get(f"/v1/schools/{school_id}/runs/{second.json()['id']}", headers=headers)).json()
    assert rerun["status"] == "succeeded"
    assert set(rerun["counts"].values()) == {0}
    async with committed.sessionmaker() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(ChangeRow)
                .where(ChangeRow.school_id == school_id, ChangeRow.run_id.is_not(None))
            )
            == journal
        )
        assert (
            await session.scalar(select(func.count()).select_from(Pupil).where(Pupil.school_id == school_id)) == pupils
        )
        runs = await session.scalar(
            select(func.count()).select_from(SyncRun).where(SyncRun.school_id == school_id, SyncRun.kind == "merge")
        )
        assert runs == 2

    # Privacy: no child's name, no password and no token in any log line of the whole flow.
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert len(lines) > 20
    secrets = [payload["school_token"], *(d["password"] for d in details)]
    names = [f"{s['forename']} {s['surname']}" for s in dump["students"]] + [
        f"{s['forename']}, {s['surname']}" for s in dump["students"]
    ]
    leaks = [word for word in secrets + names if any(word in line for line in lines)]
    assert leaks == []
    assert any('"school_id": "' + school_id + '"' in line for line in lines)  # lines say which school
