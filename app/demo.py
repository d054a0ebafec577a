"""``bandsync demo``: the onboarding walked through end to end against the built-in Wonde sandbox,
printing what the school's admin would see at each step. It uses the configured database (a fresh
demo school each time) and runs the workers' jobs in-process, so nothing else needs to be running."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from app.auth import mint_token
from app.config import Settings, WondeSettings
from app.db import create_engine, create_sessionmaker
from app.kit.crypto import SecretBox
from app.main import create_app
from app.models import SyncRun, WebhookEvent
from app.models.sync_run import READ_RUN_KINDS, RunKind, RunStatus
from app.models.webhook_event import WebhookStatus
from app.sync.connection.flow import process_event
from app.sync.mirror.flow import run_read
from app.sync.onboarding.flow import run_merge
from app.wonde.client import WondeClient, create_http_client
from app.wonde.sandbox.server import running_sandbox
from app.wonde.sandbox.webhook import webhook_payload

Say = Callable[[str], None]


async def _pending_jobs(settings: Settings, wonde: WondeClient) -> None:
    """What the workers would do next: act on received webhooks, carry out queued reads and merges."""
    from sqlalchemy import select

    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    box = SecretBox(settings.encryption_key)
    try:
        async with sessionmaker() as session:
            events = list(
                await session.scalars(select(WebhookEvent.id).where(WebhookEvent.status == WebhookStatus.RECEIVED))
            )
        for event_id in events:
            await process_event(sessionmaker, None, wonde, box, event_id)
        async with sessionmaker() as session:
            runs = list(
                await session.execute(select(SyncRun.id, SyncRun.kind).where(SyncRun.status == RunStatus.QUEUED))
            )
        for run_id, kind in runs:
            if kind in READ_RUN_KINDS:
                await run_read(sessionmaker, wonde, box, run_id)
            elif kind == RunKind.MERGE:
                await run_merge(sessionmaker, box, run_id)
    finally:
        await engine.dispose()


async def walk_through(settings: Settings, say: Say) -> None:
    with running_sandbox() as sandbox:
        settings = settings.model_copy(
            update={"wonde": WondeSettings(base_url=sandbox.base_url, webhook_secret=settings.wonde.webhook_secret)}
        )
        async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
            wonde_school = (
                await admin.post("/schools/generate", json={"phase": "primary", "pupils": 90, "seed": 4})
            ).json()
            dump = (await admin.get(f"/schools/{wonde_school['school_id']}/dump")).json()
        forms: dict[str, list[dict[str, Any]]] = {}
        for student in dump["students"]:
            for group in student["groups"]["data"]:
                if group["type"] == "REGISTRATION":
                    forms.setdefault(group["name"], []).append(student)
        keep, untouched, imported = sorted(forms)[:3]
        school_id = f"demo-{uuid.uuid4().hex[:6]}"
        headers = {
            "Authorization": f"Bearer {mint_token(settings, school_ids=[school_id], role='admin', subject='demo')}"
        }
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bandsync") as api,
            create_http_client() as http,
        ):
            wonde = WondeClient.from_settings(settings.wonde, http)
            say(
                f"1. The app's back end (the platform) registers its school {school_id} with its URN "
                f"{wonde_school['urn']} (Wonde school {wonde_school['school_id']})."
            )
            registration = {"id": school_id, "name": "Demo Primary", "urn": wonde_school["urn"]}
            await api.post(
                "/v1/schools",
                json=registration | {"wonde_school_id": wonde_school["school_id"]},
                headers={"Authorization": f"Bearer {mint_token(settings, school_ids=[], role='platform')}"},
            )
            rows = ["pupil_id,first_name,last_name,band,year_group"]
            for form in (keep, untouched):
                rows += [f"app-{s['id']},{s['forename']},{s['surname']},Class {form}," for s in forms[form][1:]]
            rows += ["club-1,Ada,Lovelace,Coding Club,", "club-2,Alan,Turing,Coding Club,"]
            summary = (
                await api.post(
                    f"/v1/schools/{school_id}/roster",
                    content="\n".join(rows),
                    headers=headers | {"content-type": "text/csv"},
                )
            ).json()
            say(
                f"   Its existing accounts are imported: {summary['pupils_created']} pupils "
                f"in {summary['bands_created']} bands."
            )

            say("2. The school approves the app in Wonde; Wonde calls our webhook.")
            secret = settings.wonde.webhook_secret.get_secret_value()
            hook = await api.post(
                f"/v1/webhooks/wonde?secret={secret}",
                json=webhook_payload(sandbox.state, wonde_school["school_id"], "schoolApproved"),
            )
            say(
                f"   Webhook answered {hook.status_code} {hook.json()['status']}; "
                "a worker verifies the token and the URN, and reads the school."
            )
            await _pending_jobs(settings, wonde)
            await _pending_jobs(settings, wonde)
            school = (await api.get(f"/v1/schools/{school_id}", headers=headers)).json()
            say(f"   School state: {school['state']}; MIS read at {school['last_full_read_at']}.")

            say("3. The uploader lists the MIS classes with suggested bands:")
            view = (await api.get(f"/v1/schools/{school_id}/uploader", headers=headers)).json()
            classes = {row["name"]: row for row in view if row["kind"] == "group"} | {
                row["name"]: row for row in view if row["kind"] == "class"
            }
            for name, row in sorted(classes.items()):
                suggestion = row["suggestion"]
                shown = (
                    f"-> {suggestion['band_name']} ({suggestion['status']}, {suggestion['evidence'][0]})"
                    if suggestion
                    else "-> no suggestion"
                )
                say(f"   {name:12} {row['pupil_count']:3d} pupils  {shown}")
            say(f"   The admin matches {keep} to its band, leaves {untouched} alone, imports {imported} as a new band.")
            for form, body in (
                (keep, {"action": "match", "band_id": classes[keep]["suggestion"]["band_id"]}),
                (untouched, {"action": "no_action"}),
                (imported, {"action": "import"}),
            ):
                await api.put(
                    f"/v1/schools/{school_id}/uploader/classes/{classes[form]['wonde_class_id']}",
                    json=body,
                    headers=headers,
                )

            issues = (await api.get(f"/v1/schools/{school_id}/uploader/issues", headers=headers)).json()
            say(f"4. Issues to resolve: {len(issues['students'])} students not linked automatically.")
            for student in issues["students"][:5]:
                say(f"   {student['name']}: merge will {student['merge_will']}")
            preview = (await api.get(f"/v1/schools/{school_id}/uploader/preview", headers=headers)).json()
            say(f"5. Preview: {json.dumps(preview['counts'])}")
            for warning in preview["warnings"]:
                say(f"   Warning: {warning['message']}")

            run = (await api.post(f"/v1/schools/{school_id}/uploader/merge", headers=headers)).json()
            say(f"6. Merge queued as run {run['id']}; a worker applies it in one transaction.")
            await _pending_jobs(settings, wonde)
            done = (await api.get(f"/v1/schools/{school_id}/runs/{run['id']}", headers=headers)).json()
            say(f"   Run {done['status']}: {json.dumps(done['counts'])}")
            login = (
                (await api.get(f"/v1/schools/{school_id}/runs/{run['id']}/credentials", headers=headers))
                .content.decode("utf-8-sig")  # the CSV starts with a byte order mark, for spreadsheets
                .splitlines()
            )
            say(f"   Login details for the {len(login) - 1} new accounts (CSV; downloadable again until confirmed):")
            for line in login[:4]:
                say(f"     {line}")

            out = (await api.post(f"/v1/schools/{school_id}/disconnect", headers=headers)).json()
            say(f"7. Disconnect: {json.dumps(out['counts'])}; every account and membership is kept.")


def main(settings: Settings) -> int:
    asyncio.run(walk_through(settings, print))
    return 0
