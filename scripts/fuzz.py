"""`make fuzz`: schemathesis against a live local bandsync, from openapi/openapi.json.

Everything it starts is its own and is removed at the end: a freshly migrated scratch database, a
queue name in Redis, the Wonde sandbox on a free port (a generated primary school, read into the
mirror of the seeded school ``fuzz``), and the API on a free port. No worker runs, so jobs the fuzzer
enqueues wait in the scratch queue and are deleted with it.

So that cases reach the handlers rather than a 401 or a 404, the fuzzer is given what a client would
know: an admin token, the webhook secret the API runs with (in the webhook's ``secret``), and real ids
of the seeded school for its path parameters (a band and a pupil made through the API, the MIS read's
run, an MIS class and student, and a held change seeded as a reconcile run would hold it).

Schemathesis lives in its own virtualenv (.venv-fuzz, from requirements-fuzz.lock; the Makefile
installs it). The run fails on any 5xx (not_a_server_error) or a response that the schema does not
describe (status code, content type, body), and prints how many cases it sent.

    .venv/bin/python scripts/fuzz.py [--max-examples N] [--seed N] [extra schemathesis options ...]

Re-lock schemathesis (versions and hashes only) with:
    .venv/bin/uv pip compile scripts/fuzz-requirements.in --python-version 3.11 --generate-hashes \
        --no-header --quiet -o requirements-fuzz.lock
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SCHEMATHESIS = ROOT / ".venv-fuzz" / "bin" / "st"
SCHOOL_ID = "fuzz"
# How often a generated path id is the seeded school's real one (the rest: generated or seen in responses).
REAL_ID_PROBABILITY = 0.75
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(*command: str | Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(part) for part in command], env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command[:2]))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextmanager
def background(*command: str | Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([str(part) for part in command], env=env, cwd=ROOT, stdout=out, stderr=out)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(check: str, what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(check, timeout=2) as response:  # noqa: S310 (a loopback address of ours)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{what} did not start; its log:\n{log.read_text()[-3000:]}")


@contextmanager
def scratch_database(base_url: str) -> Iterator[str]:
    """A new database beside the configured one, dropped at the end (with any connections left)."""
    from sqlalchemy.engine import make_url

    name = f"bandsync_fuzz_{uuid.uuid4().hex[:8]}"
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        asyncio.run(_drop(name, base_url))


async def _drop(name: str, base_url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database="postgres"
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _drop_queue(redis_url: str, queue: str) -> None:
    from arq.connections import ArqRedis

    redis = ArqRedis.from_url(redis_url)
    try:
        job_ids = await redis.zrange(queue, 0, -1)
        await redis.delete(queue, *(b"arq:job:" + job_id for job_id in job_ids))
    finally:
        await redis.aclose()


def call_api(base: str, token: str, method: str, path: str, body: object = None) -> Any:
    """One JSON request to the API as the seeded school's admin; the set-up stops on anything but 2xx."""
    request = urllib.request.Request(  # noqa: S310 (a loopback address of ours)
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


async def _hold_and_look_up(database_url: str, band_id: str) -> dict[str, str | int]:
    """Real ids of the seeded school: its MIS read's run, an MIS class and student, and a held change
    (the band stops following a class that left the MIS, with another class suggested), held the way a
    reconcile run holds one, so the held-change routes find something to decide."""
    from sqlalchemy import select

    from app.db import create_engine, create_sessionmaker
    from app.kit.unit_of_work import unit_of_work
    from app.models import ChangeRow, MisClass, MisStudent, SyncRun
    from app.models.sync_run import RunKind, RunTrigger
    from app.sync.core.changes import UnlinkBand
    from app.sync.core.safeguards import Held
    from app.sync.reconcile.held import hold
    from app.sync.runs import service as runs

    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as session:
            live = MisClass.school_id == SCHOOL_ID, MisClass.deleted_at.is_(None)
            classes = list(await session.scalars(select(MisClass.wonde_id).where(*live).order_by(MisClass.wonde_id)))
            student = await session.scalar(
                select(MisStudent.wonde_id)
                .where(MisStudent.school_id == SCHOOL_ID, MisStudent.deleted_at.is_(None))
                .order_by(MisStudent.wonde_id)
                .limit(1)
            )
            read = await session.scalar(
                select(SyncRun.id).where(SyncRun.school_id == SCHOOL_ID, SyncRun.kind == RunKind.FULL_READ).limit(1)
            )
            if len(classes) < 2 or student is None or read is None:
                sys.exit(f"the seeded school has no MIS classes, students or read run: {classes!r}, {student!r}")
            reconcile = runs.new_run(SCHOOL_ID, RunKind.RECONCILE, RunTrigger.SCHEDULE, None)
            runs.start(reconcile)
            runs.succeed(reconcile)
            session.add(reconcile)
            await session.flush()
            await hold(session, SCHOOL_ID, reconcile, [Held(UnlinkBand(band_id, classes[0], classes[1]), "fuzz seed")])
            change = await session.scalar(select(ChangeRow.id).where(ChangeRow.run_id == reconcile.id))
            assert change is not None
    finally:
        await engine.dispose()
    return {
        "run_id": str(read),
        "change_id": change,
        "wonde_class_id": classes[0],
        "wonde_student_id": student,
    }


def seed_ids(base: str, token: str, database_url: str) -> dict[str, str | int]:
    """A band and a pupil in it, made as the app would make them; then the other ids from the database."""
    band = call_api(base, token, "POST", f"/v1/schools/{SCHOOL_ID}/bands", {"name": "Fuzz band", "year_group": 3})
    pupil = call_api(
        base,
        token,
        "POST",
        f"/v1/schools/{SCHOOL_ID}/pupils",
        {"first_name": "Fuzz", "last_name": "Pupil", "year_group": 3, "band_ids": [band["id"]]},
    )
    looked_up = asyncio.run(_hold_and_look_up(database_url, band["id"]))
    return {"band_id": band["id"], "pupil_id": pupil["id"]} | looked_up


def schemathesis_config(
    token: str, platform_token: str, metrics_token: str, webhook_secret: str, ids: dict[str, str | int]
) -> str:
    """Every request as an admin of the seeded school, but the platform's acts (registering a school,
    answering an approval) as the platform; /metrics with the run's scrape token; the webhook with the
    run's secret. Each other path id is one of the school's real ids in most generated cases (a
    dictionary bound to the parameter), so they reach the handlers, and otherwise what schemathesis makes
    or has seen in responses (unknown and malformed ids included; the coverage phase uses only those)."""
    dictionaries = "".join(
        f"[dictionaries.{name}]\nvalues = [{json.dumps(value)}]\n" for name, value in sorted(ids.items())
    )
    bindings = "".join(
        f'"path.{name}" = {{ dictionary = "{name}", probability = {REAL_ID_PROBABILITY} }}\n' for name in sorted(ids)
    )
    return (
        f'headers = {{ Authorization = "Bearer {token}" }}\n'
        + dictionaries
        + "[parameters]\n"
        + f'"path.school_id" = "{SCHOOL_ID}"\n'
        + bindings
        + "[output.sanitization]\n"
        "enabled = true\n"
        "[[operations]]\n"
        'include-path = "/v1/schools"\n'
        'include-method = "POST"\n'
        f'headers = {{ Authorization = "Bearer {platform_token}" }}\n'
        "[[operations]]\n"
        'include-path-regex = "/approval/"\n'
        f'headers = {{ Authorization = "Bearer {platform_token}" }}\n'
        "[[operations]]\n"
        'include-path = "/metrics"\n'
        f'headers = {{ Authorization = "Bearer {metrics_token}" }}\n'
        "[[operations]]\n"
        'include-path = "/v1/webhooks/wonde"\n'
        f'parameters = {{ "query.secret" = {json.dumps(webhook_secret)} }}\n'
    )


def summarise(report: Path) -> tuple[int, dict[str, int]]:
    """Cases sent and failures by check, from schemathesis' NDJSON event stream."""
    cases = 0
    failures: dict[str, int] = {}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        cases += len(recorder.get("cases") or {})
        for checks in (recorder.get("checks") or {}).values():
            for check in checks:
                if str(check.get("status")).lower() == "failure":
                    failures[check["name"]] = failures.get(check["name"], 0) + 1
    return cases, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=None, help="cases per operation and phase")
    parser.add_argument("--seed", type=int, default=None)
    args, extra = parser.parse_known_args()
    if not SCHEMATHESIS.exists():
        sys.exit("schemathesis is not installed in .venv-fuzz: run `make fuzz`")

    from app.config import Settings

    settings = Settings()
    tag = uuid.uuid4().hex[:8]
    queue = f"bandsync:fuzz:{tag}"
    metrics_token = secrets.token_urlsafe(32)
    webhook_secret = secrets.token_urlsafe(32)
    logs = Path(tempfile.mkdtemp(prefix="bandsync-fuzz-"))
    with ExitStack() as stack:
        database_url = stack.enter_context(scratch_database(settings.database_url))
        sandbox_port, api_port = free_port(), free_port()
        env = os.environ | {
            "BANDSYNC_DATABASE_URL": database_url,
            "BANDSYNC_QUEUE_NAME": queue,
            "BANDSYNC_WONDE__BASE_URL": f"http://127.0.0.1:{sandbox_port}/v1.0",
            "BANDSYNC_LOG_LEVEL": "WARNING",
            "BANDSYNC_METRICS_TOKEN": metrics_token,
            "BANDSYNC_WONDE__WEBHOOK_SECRET": webhook_secret,
        }
        stack.callback(lambda: asyncio.run(_drop_queue(settings.redis_url, queue)))
        run(BIN / "bandsync", "create-db", env=env)
        run(BIN / "alembic", "upgrade", "head", env=env)

        school_file = logs / "sandbox-school.json"
        sandbox_log = logs / "sandbox.log"
        stack.enter_context(
            background(
                *(BIN / "bandsync", "sandbox", "--port", str(sandbox_port), "--phase", "primary"),
                *("--pupils", "210", "--seed", "1", "--write-school", str(school_file)),
                env=env,
                log=sandbox_log,
            )
        )
        deadline = time.monotonic() + 60
        while not (school_file.exists() and school_file.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.3)
        if not school_file.exists():
            sys.exit(f"the Wonde sandbox did not start:\n{sandbox_log.read_text()[-3000:]}")
        wonde = json.loads(school_file.read_text())
        run(
            *(BIN / "bandsync", "create-school", "--id", SCHOOL_ID, "--name", "Fuzz Primary School"),
            *("--urn", wonde["urn"], "--wonde-school", wonde["school_id"]),
            env=env,
        )
        run(
            *(BIN / "bandsync", "connect", "--school", SCHOOL_ID, "--wonde-school", wonde["school_id"]),
            *("--token", wonde["token"], "--domain", f"127.0.0.1:{sandbox_port}"),
            env=env,
        )
        run(BIN / "bandsync", "read", "--school", SCHOOL_ID, env=env)
        token = run(BIN / "bandsync", "token", "--school", SCHOOL_ID, "--role", "admin", env=env).strip()

        api_log = logs / "api.log"
        stack.enter_context(
            background(
                *(BIN / "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1"),
                *("--port", str(api_port), "--no-access-log"),
                env=env,
                log=api_log,
            )
        )
        base = f"http://127.0.0.1:{api_port}"
        wait_until(f"{base}/healthz", "the API", api_log)

        config = logs / "schemathesis.toml"
        ids = seed_ids(base, token, database_url)
        platform_token = run(BIN / "bandsync", "token", "--platform", env=env).strip()
        config.write_text(schemathesis_config(token, platform_token, metrics_token, webhook_secret, ids))
        events = logs / "events.ndjson"
        command = [
            *(str(SCHEMATHESIS), "--config-file", str(config), "run", "openapi/openapi.json", "--url", base),
            *("--checks", CHECKS, "--report", "ndjson", "--report-ndjson-path", str(events)),
            *(["--max-examples", str(args.max_examples)] if args.max_examples else []),
            *(["--seed", str(args.seed)] if args.seed is not None else []),
            *extra,
        ]
        print(f"fuzzing {base} as an admin of school {SCHOOL_ID!r} (logs in {logs})", flush=True)
        print("real path ids: " + ", ".join(f"{name}={value}" for name, value in sorted(ids.items())), flush=True)
        code = subprocess.run(command, cwd=ROOT, env=os.environ | {"NO_COLOR": "1"}, check=False).returncode  # noqa: S603
        cases, failures = summarise(events) if events.exists() else (0, {})
        server_errors = failures.get("not_a_server_error", 0)
        schema_failures = sum(count for name, count in failures.items() if name != "not_a_server_error")
        print(
            f"\nmake fuzz: {cases} cases, {server_errors} server errors, {schema_failures} schema failures"
            + (f" ({', '.join(f'{name}: {count}' for name, count in sorted(failures.items()))})" if failures else "")
        )
        if server_errors or schema_failures:
            print(f"the API's log: {api_log}")
        return code or (1 if failures else 0)


if __name__ == "__main__":
    sys.exit(main())
