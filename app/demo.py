"""``bandsync demo``: the onboarding walked through end to end against the built-in Wonde sandbox,
printing what the school's admin would see at each step. It uses the configured database and runs the
workers' jobs in-process (its jobs go to a queue of its own, emptied at the end), so nothing else needs
to be running.

The narration goes to stdout as plain lines; the service's JSON logs go to stderr (at WARNING unless
told). Every answer of the API is checked: an unexpected one stops the demo with a message naming the
step and the answer, and exit status 1. Its school (``demo-walkthrough``) is removed at the end, and one
left by a run that crashed (or by the demo's earlier versions, which named it ``demo-`` and six hex
digits) is removed at the start, so the demo can be run any number of times on one database."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import mint_token
from app.config import Settings, WondeSettings
from app.db import create_engine, create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.logging import configure_logging
from app.kit.unit_of_work import unit_of_work
from app.main import create_app
from app.models import School, WebhookEvent
from app.models.sync_run import READ_RUN_KINDS, RunKind
from app.models.webhook_event import WebhookStatus
from app.sync.connection.flow import process_event, revoke_access
from app.sync.mirror.flow import run_read
from app.sync.onboarding.flow import run_merge
from app.sync.runs.repository import RunRepository, delete_events_about
from app.wonde.client import WondeClient, create_http_client
from app.wonde.sandbox.server import running_sandbox
from app.wonde.sandbox.state import SandboxState
from app.wonde.sandbox.webhook import webhook_payload

Say = Callable[[str], None]
Sessionmaker = async_sessionmaker[AsyncSession]

DEMO_SCHOOL = "demo-walkthrough"
# The ids the demo gave its schools before it had one of its own: leftovers of those runs are the demo's too.
_EARLIER_DEMO_SCHOOL = re.compile(r"demo-[0-9a-f]{6}")
# The sandbox school the demo generates (the same every time, so the same Wonde school id).
SANDBOX_PUPILS, SANDBOX_SEED = 90, 4
SANDBOX_SCHOOL = {"phase": "primary", "pupils": SANDBOX_PUPILS, "seed": SANDBOX_SEED}


class DemoFailed(Exception):
    """A step of the demo got an answer it did not expect; the message says which and what."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('detail')}"
    return json.dumps(body)[:200]


async def _call(
    client: httpx.AsyncClient, step: str, method: str, path: str, *, expect: int = 200, **kwargs: Any
) -> httpx.Response:
    """The answer to one request, which must have the expected status (else ``DemoFailed``)."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise DemoFailed(f"{step}: {method} {path.split('?')[0]} got no answer ({exc!r})") from exc
    if response.status_code != expect:
        raise DemoFailed(
            f"{step}: {method} {path.split('?')[0]} answered {response.status_code} "
            f"(expected {expect}): {_detail(response)}"
        )
    return response


async def _json(client: httpx.AsyncClient, step: str, method: str, path: str, **kwargs: Any) -> Any:
    response = await _call(client, step, method, path, **kwargs)
    try:
        return response.json()
    except ValueError as exc:
        raise DemoFailed(f"{step}: {method} {path.split('?')[0]} answered no JSON") from exc


def _field(body: Any, step: str, *keys: str | int) -> Any:
    """``body[k1][k2]...``, or ``DemoFailed`` naming what the answer lacked."""
    value = body
    for key in keys:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise DemoFailed(f"{step}: the answer has no {'.'.join(map(str, keys))}") from None
    return value


async def forget_demo_schools(sessionmaker: Sessionmaker, wonde_school_id: str | None) -> list[str]:
    """Delete the demo's school, and any earlier demo's school bound to the demo's Wonde school, with every
    row they own (by cascade) and the webhook events about them or that Wonde school, in one transaction;
    their ids. Deleting the school releases its Wonde binding. A school that is not the demo's but holds
    the binding is left alone: ``DemoFailed``."""
    async with unit_of_work(sessionmaker, None) as session:
        found = list(
            await session.execute(
                select(School.id, School.wonde_school_id).where(
                    or_(School.id == DEMO_SCHOOL, School.wonde_school_id == wonde_school_id)
                    if wonde_school_id
                    else School.id == DEMO_SCHOOL
                )
            )
        )
        others = [sid for sid, _ in found if sid != DEMO_SCHOOL and not _EARLIER_DEMO_SCHOOL.fullmatch(sid)]
        if others:
            raise DemoFailed(
                f"the sandbox's Wonde school {wonde_school_id} is bound to school {others[0]!r}, which is not "
                "the demo's: bind that school elsewhere (PATCH /v1/schools/{id}) or use another database"
            )
        ids = [sid for sid, _ in found]
        await delete_events_about(session, ids, wonde_school_id)
        if ids:
            await session.execute(delete(School).where(School.id.in_(ids)))
    return ids


async def _drop_queue(redis_url: str, name: str) -> None:
    """The demo's own queue and the jobs in it (the demo ran them in-process)."""
    redis = ArqRedis.from_url(redis_url)
    try:
        job_ids: Sequence[bytes] = await redis.zrange(name, 0, -1)
        await redis.delete(name, *(job_key_prefix.encode() + job_id for job_id in job_ids))
    finally:
        await redis.aclose()


async def _pending_jobs(
    sessionmaker: Sessionmaker, wonde: WondeClient, box: SecretBox, school_id: str, wonde_school_id: str
) -> None:
    """What the workers would do next for the demo's school: act on its received webhooks, carry out its
    queued reads and merges."""
    async with sessionmaker() as session:
        events = list(
            await session.scalars(
                select(WebhookEvent.id).where(
                    WebhookEvent.status == WebhookStatus.RECEIVED, WebhookEvent.wonde_school_id == wonde_school_id
                )
            )
        )
    for event_id in events:
        await process_event(sessionmaker, None, wonde, box, event_id)
    async with sessionmaker() as session:
        runs = await RunRepository(session, school_id).queued()
    for run_id, kind in runs:
        if kind in READ_RUN_KINDS:
            await run_read(sessionmaker, wonde, box, run_id)
        elif kind == RunKind.MERGE:
            await run_merge(sessionmaker, box, run_id)


def _forms(dump: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    forms: dict[str, list[dict[str, Any]]] = {}
    for student in _field(dump, "reading the sandbox's school", "students"):
        for group in student["groups"]["data"]:
            if group["type"] == "REGISTRATION":
                forms.setdefault(group["name"], []).append(student)
    return forms


async def walk_through(settings: Settings, say: Say) -> None:
    """The onboarding of a school, step by step, against a sandbox of its own; the school removed at the end."""
    with running_sandbox() as sandbox:
        settings = settings.model_copy(
            update={
                "wonde": WondeSettings(base_url=sandbox.base_url, webhook_secret=settings.wonde.webhook_secret),
                "queue_name": f"{settings.queue_name}:demo:{uuid.uuid4().hex[:6]}",
            }
        )
        async with httpx.AsyncClient(base_url=sandbox.admin_url, timeout=60) as admin:
            step = "generating the sandbox's school"
            wonde_school = await _json(admin, step, "POST", "/schools/generate", json=SANDBOX_SCHOOL)
            wonde_school_id = _field(wonde_school, step, "school_id")
            dump = await _json(admin, "reading the sandbox's school", "GET", f"/schools/{wonde_school_id}/dump")
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            if removed := await forget_demo_schools(sessionmaker, wonde_school_id):
                say(f"0. Removed what an earlier run of the demo left behind: school {', '.join(removed)}.")
            try:
                await _onboard(settings, sessionmaker, say, sandbox.state, wonde_school, dump)
            finally:
                removed = await forget_demo_schools(sessionmaker, wonde_school_id)
                await _drop_queue(settings.redis_url, settings.queue_name)
            say(f"8. The demo's school {', '.join(removed)} is deleted with all it held; run the demo again any time.")
        finally:
            await engine.dispose()


async def _onboard(
    settings: Settings,
    sessionmaker: Sessionmaker,
    say: Say,
    sandbox_state: SandboxState,
    wonde_school: dict[str, Any],
    dump: dict[str, Any],
) -> None:
    wonde_school_id = wonde_school["school_id"]
    forms = _forms(dump)
    if len(forms) < 3:
        raise DemoFailed(f"the sandbox's school has {len(forms)} forms; the demo needs 3")
    keep, untouched, imported = sorted(forms)[:3]
    school_id = DEMO_SCHOOL
    headers = {"Authorization": f"Bearer {mint_token(settings, school_ids=[school_id], role='admin', subject='demo')}"}
    platform = {"Authorization": f"Bearer {mint_token(settings, school_ids=[], role='platform')}"}
    box = SecretBox(settings.encryption_key)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bandsync", timeout=60) as api,
        create_http_client() as http,
    ):
        wonde = WondeClient.from_settings(settings.wonde, http)
        base = f"/v1/schools/{school_id}"

        step = "1. registering the school"
        say(
            f"1. The app's back end (the platform) registers its school {school_id} with its URN "
            f"{wonde_school['urn']} (Wonde school {wonde_school_id})."
        )
        registration = {"id": school_id, "name": "Demo Primary", "urn": wonde_school["urn"]}
        await _call(
            api, step, "POST", "/v1/schools", expect=201, json=registration | {"wonde_school_id": wonde_school_id},
            headers=platform,
        )  # fmt: skip
        rows = ["pupil_id,first_name,last_name,band,year_group"]
        for form in (keep, untouched):
            rows += [f"app-{s['id']},{s['forename']},{s['surname']},Class {form}," for s in forms[form][1:]]
        rows += ["club-1,Ada,Lovelace,Coding Club,", "club-2,Alan,Turing,Coding Club,"]
        summary = await _json(
            api, "1. importing the app's roster", "POST", f"{base}/roster", content="\n".join(rows),
            headers=headers | {"content-type": "text/csv"},
        )  # fmt: skip
        say(
            f"   Its existing accounts are imported: {_field(summary, step, 'pupils_created')} pupils "
            f"in {_field(summary, step, 'bands_created')} bands."
        )

        step = "2. Wonde's approval"
        say("2. The school approves the app in Wonde; Wonde calls our webhook.")
        secret = settings.wonde.webhook_secret.get_secret_value()
        hook = await _call(
            api, step, "POST", f"/v1/webhooks/wonde?secret={secret}", expect=202,
            json=webhook_payload(sandbox_state, wonde_school_id, "schoolApproved"),
        )  # fmt: skip
        say(
            f"   Webhook answered {hook.status_code} {_field(hook.json(), step, 'status')}; "
            "a worker verifies the token and the URN, and reads the school."
        )
        await _pending_jobs(sessionmaker, wonde, box, school_id, wonde_school_id)
        await _pending_jobs(sessionmaker, wonde, box, school_id, wonde_school_id)
        school = await _json(api, step, "GET", base, headers=headers)
        if school.get("last_full_read_at") is None:
            raise DemoFailed(f"{step}: the school was not read (state {school.get('state')})")
        say(f"   School state: {school['state']}; MIS read at {school['last_full_read_at']}.")

        step = "3. the uploader"
        say("3. The uploader lists the MIS classes with suggested bands:")
        view = await _json(api, step, "GET", f"{base}/uploader", headers=headers)
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
        if not (classes.get(keep) or {}).get("suggestion"):
            raise DemoFailed(f"{step}: the uploader suggests no band for {keep}")
        say(f"   The admin matches {keep} to its band, leaves {untouched} alone, imports {imported} as a new band.")
        for form, body in (
            (keep, {"action": "match", "band_id": classes[keep]["suggestion"]["band_id"]}),
            (untouched, {"action": "no_action"}),
            (imported, {"action": "import"}),
        ):
            path = f"{base}/uploader/classes/{_field(classes, step, form, 'wonde_class_id')}"
            await _call(api, step, "PUT", path, json=body, headers=headers)

        step = "4. the issues"
        issues = await _json(api, step, "GET", f"{base}/uploader/issues", headers=headers)
        students = _field(issues, step, "students")
        say(f"4. Issues to resolve: {len(students)} students not linked automatically.")
        for student in students[:5]:
            say(f"   {student['name']}: merge will {student['merge_will']}")
        step = "5. the preview"
        preview = await _json(api, step, "GET", f"{base}/uploader/preview", headers=headers)
        say(f"5. Preview: {json.dumps(_field(preview, step, 'counts'))}")
        for warning in _field(preview, step, "warnings"):
            say(f"   Warning: {warning['message']}")

        step = "6. the merge"
        run = await _json(api, step, "POST", f"{base}/uploader/merge", expect=202, headers=headers)
        run_id = _field(run, step, "id")
        say(f"6. Merge queued as run {run_id}; a worker applies it in one transaction.")
        await _pending_jobs(sessionmaker, wonde, box, school_id, wonde_school_id)
        done = await _json(api, step, "GET", f"{base}/runs/{run_id}", headers=headers)
        if done.get("status") != "succeeded":
            raise DemoFailed(f"{step}: run {run_id} is {done.get('status')}: {done.get('error')}")
        say(f"   Run {done['status']}: {json.dumps(done['counts'])}")
        login = (
            (await _call(api, step, "GET", f"{base}/runs/{run_id}/credentials", headers=headers))
            .content.decode("utf-8-sig")  # the CSV starts with a byte order mark, for spreadsheets
            .splitlines()
        )
        say(f"   Login details for the {len(login) - 1} new accounts (CSV; downloadable again until confirmed):")
        for line in login[:4]:
            say(f"     {line}")

        step = "7. the disconnect"
        out = await _json(api, step, "POST", f"{base}/disconnect", headers=headers)
        say(f"7. Disconnect: {json.dumps(_field(out, step, 'counts'))}; every account and membership is kept.")
        revoked = await revoke_access(sessionmaker, wonde, box, uuid.UUID(_field(out, step, "id")))
        say(f"   A worker asks Wonde to revoke the app's access: {revoked}.")


def main(settings: Settings, log_level: str = "WARNING") -> int:
    """Run the demo; 1, with the reason on stderr, when a step got an answer it did not expect."""
    quiet = settings.model_copy(update={"log_level": log_level})
    configure_logging(log_level)  # from the first request on (the app configures it again, the same way)
    try:
        asyncio.run(walk_through(quiet, lambda line: print(line, flush=True)))
    except DemoFailed as exc:
        print(f"the demo stopped: {exc}", file=sys.stderr)
        return 1
    return 0
