"""The ``bandsync`` command, for operators and for trying the product on one machine."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings
from app.kit.locking import ROW_FOR_CHANGE
from app.wonde.sandbox.cli import add_sandbox_commands

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from app.auth import Role, mint_token

    ttl = None if args.hours is None else timedelta(hours=args.hours)
    if args.platform == bool(args.school):
        print(
            "give --school (a school's admin or teacher) or --platform (every school, no pupil data)", file=sys.stderr
        )
        return 2
    role: Role = "platform" if args.platform else args.role
    try:
        token = mint_token(settings, school_ids=args.school or [], role=role, subject=args.subject, ttl=ttl)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(token)
    return 0


async def _revoke_school_tokens(settings: Settings, school_id: str) -> int:
    from app.db import create_engine, create_sessionmaker
    from app.kit.time import utc_now
    from app.kit.unit_of_work import unit_of_work
    from app.models import School

    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as session:
            school = await session.get(School, school_id, with_for_update=ROW_FOR_CHANGE)
            if school is None:
                print(f"no school {school_id!r}", file=sys.stderr)
                return 2
            school.tokens_valid_after = cutoff = utc_now()
    finally:
        await engine.dispose()
    print(f"school {school_id!r}: tokens issued before {cutoff.isoformat()} (or without iat) are refused")
    return 0


def _revoke_tokens(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_revoke_school_tokens(settings, args.school_id))


def openapi_document() -> str:
    from app.main import create_app

    return json.dumps(create_app(get_settings()).openapi(), indent=2, sort_keys=True) + "\n"


def _openapi(args: argparse.Namespace, _: Settings) -> int:
    document = openapi_document()
    if args.check:
        if not OPENAPI_PATH.exists() or OPENAPI_PATH.read_text() != document:
            print("openapi/openapi.json is stale: run `make openapi` and commit it.", file=sys.stderr)
            return 1
        print("openapi/openapi.json is up to date")
        return 0
    OPENAPI_PATH.write_text(document)
    print(f"wrote {OPENAPI_PATH}")
    return 0


async def create_database(database_url: str) -> bool:
    """Create the database named in ``database_url`` if it is missing; True when it was created."""
    url = make_url(database_url)
    name = url.database
    assert name, "the database URL names no database"
    admin = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database="postgres"
    )
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await admin.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await admin.close()


def _create_db(_: argparse.Namespace, settings: Settings) -> int:
    created = asyncio.run(create_database(settings.database_url))
    print("database created" if created else "database exists")
    return 0


def _operator() -> str:
    """Who runs a command that the journal records (its actor): the operator's login on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


async def _import_roster_file(settings: Settings, school_id: str, path: Path, data: bytes) -> int:
    from app.db import create_engine, create_sessionmaker
    from app.kit.unit_of_work import unit_of_work
    from app.models import School
    from app.roster.parser import RosterInvalid, parse_roster
    from app.roster.service import import_roster

    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as session:
            if await session.get(School, school_id) is None:
                print(f"no school {school_id!r}: create it first (POST /v1/schools)", file=sys.stderr)
                return 2
            summary = await import_roster(session, school_id, parse_roster(data), _operator())
    except RosterInvalid as exc:
        for error in exc.errors:
            column = f", column {error.column}" if error.column else ""
            print(f"{path}: line {error.line}{column}: {error.message}", file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(json.dumps(summary.model_dump()))
    return 0


async def _create_school_record(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.db import create_engine, create_sessionmaker
    from app.errors import SchoolAlreadyExists
    from app.kit.unit_of_work import unit_of_work
    from app.schools.schemas import SchoolCreate
    from app.schools.service import create_school

    fields = {"id": args.id, "name": args.name, "urn": args.urn, "la_code": args.la_code}
    fields |= {"establishment_number": args.establishment_number, "wonde_school_id": args.wonde_school}
    try:
        data = SchoolCreate.model_validate({name: value for name, value in fields.items() if value is not None})
    except ValidationError as exc:
        for error in exc.errors():
            print(f"--{'-'.join(map(str, error['loc'])).replace('_', '-')}: {error['msg']}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as session:
            await create_school(session, data)
    except SchoolAlreadyExists as exc:
        print(f"school {args.id!r} not created: {exc.detail}")
        return 0 if args.if_missing else 1
    finally:
        await engine.dispose()
    print(f"school {args.id!r} created")
    return 0


def _create_school(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_create_school_record(settings, args))


async def _connect_school(settings: Settings, args: argparse.Namespace) -> int:
    from app.db import create_engine, create_sessionmaker
    from app.errors import SchoolNotFound
    from app.kit.crypto import SecretBox
    from app.kit.unit_of_work import unit_of_work
    from app.schools.service import connect_to_wonde

    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as session:
            await connect_to_wonde(
                session,
                args.school,
                wonde_school_id=args.wonde_school,
                token=args.token,
                domain=args.domain,
                box=SecretBox(settings.encryption_key),
            )
    except SchoolNotFound:
        print(f"no school {args.school!r}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(f"school {args.school!r} linked to Wonde school {args.wonde_school}")
    return 0


def _connect(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_connect_school(settings, args))


async def _read_school(settings: Settings, school_id: str, delta: bool) -> int:
    from app.db import create_engine, create_sessionmaker
    from app.kit.crypto import SecretBox
    from app.kit.unit_of_work import unit_of_work
    from app.models import School, SyncRun
    from app.models.sync_run import RunKind, RunTrigger
    from app.sync.mirror.flow import run_read
    from app.sync.runs.service import new_run
    from app.wonde.client import WondeClient, create_http_client

    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with unit_of_work(sessionmaker, None) as session:
            if await session.get(School, school_id) is None:
                print(f"no school {school_id!r}", file=sys.stderr)
                return 2
            kind = RunKind.DELTA_READ if delta else RunKind.FULL_READ
            run = new_run(school_id, kind, RunTrigger.MANUAL, "cli")
            session.add(run)
        async with create_http_client(settings.wonde.timeout_seconds) as http:
            wonde = WondeClient.from_settings(settings.wonde, http)
            status = await run_read(sessionmaker, wonde, SecretBox(settings.encryption_key), run.id)
        async with sessionmaker() as session:
            finished = await session.get(SyncRun, run.id)
            assert finished is not None
            report = {"status": status, "kind": finished.kind, "requests": finished.requests_made}
            print(json.dumps(report | {"counts": finished.counts, "error": finished.error}))
    finally:
        await engine.dispose()
    return 0 if status == "succeeded" else 1


def _read(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_read_school(settings, args.school, args.delta))


def _match(args: argparse.Namespace, _: Settings) -> int:
    from app.roster.parser import RosterInvalid
    from app.sync.core.matching import match
    from app.sync.onboarding.match_files import MatchFilesError, read_inputs, result_document

    try:
        data, app = read_inputs(Path(args.wonde).read_bytes(), Path(args.roster).read_bytes())
    except OSError as exc:
        print(f"cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except MatchFilesError as exc:
        print(f"{args.wonde}: {exc}", file=sys.stderr)
        return 2
    except RosterInvalid as exc:
        for error in exc.errors:
            column = f", column {error.column}" if error.column else ""
            print(f"{args.roster}: line {error.line}{column}: {error.message}", file=sys.stderr)
        return 2
    document = result_document(match(data), app)
    Path(args.out).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    statuses = [p["status"] for p in document["pupils"]]
    print(
        f"{len(statuses)} pupils: {statuses.count('auto')} auto, {statuses.count('review')} review, "
        f"{statuses.count('none')} none; {len(document['new_students'])} new students -> {args.out}"
    )
    return 0


async def _seed_demo_school(settings: Settings, school_id: str) -> int:
    from app.db import create_engine, create_sessionmaker
    from app.demo_roster import DemoRosterUnavailable, seed_demo_roster
    from app.kit.unit_of_work import unit_of_work
    from app.models import School

    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as session:
            if await session.get(School, school_id) is None:
                print(f"no school {school_id!r}", file=sys.stderr)
                return 2
            summary = await seed_demo_roster(session, school_id, _operator())
    except DemoRosterUnavailable as exc:
        print(f"school {school_id!r}: {exc} (read it from the sandbox first)", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    if summary is None:
        print(f"school {school_id!r} already has bands or pupils: its roster is left as it is")
    else:
        print(
            f"school {school_id!r}: the demo roster imported, {summary.pupils_created} pupils in "
            f"{summary.bands_created} bands; the uploader has suggestions"
        )
    return 0


def _seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_seed_demo_school(settings, args.school))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo import main as demo

    return demo(settings, log_level=args.log_level)


def _import_roster(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    return asyncio.run(_import_roster_file(settings, args.school, path, path.read_bytes()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bandsync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="mint a development token (HS256, the configured secret)")
    token.add_argument("--school", action="append", help="a school id; repeat for several")
    token.add_argument("--role", choices=["admin", "teacher"], default="admin")
    token.add_argument(
        "--platform", action="store_true", help="the platform role: registers schools and confirms approvals"
    )
    token.add_argument("--subject", default="dev")
    token.add_argument(
        "--hours", type=float, help="lifetime in hours (default and most: BANDSYNC_JWT__MAX_LIFETIME_SECONDS, 12 h)"
    )
    token.set_defaults(handler=_token)

    revoke = commands.add_parser(
        "revoke-tokens", help="refuse a school's tokens issued until now (those without iat too)"
    )
    revoke.add_argument("school_id")
    revoke.set_defaults(handler=_revoke_tokens)

    openapi = commands.add_parser("openapi", help="write openapi/openapi.json (or --check it is current)")
    openapi.add_argument("--check", action="store_true")
    openapi.set_defaults(handler=_openapi)

    create_db = commands.add_parser("create-db", help="create the configured database if it is missing")
    create_db.set_defaults(handler=_create_db)

    school = commands.add_parser("create-school", help="register a school (as POST /v1/schools does)")
    school.add_argument("--id", required=True)
    school.add_argument("--name", required=True)
    school.add_argument("--urn", required=True, help="the school's DfE URN; Wonde's approval must carry it")
    school.add_argument("--la-code", help="the DfE local authority code (3 digits)")
    school.add_argument("--establishment-number", help="the DfE establishment number (4 digits)")
    school.add_argument("--wonde-school", help="the school's Wonde id, when known")
    school.add_argument("--if-missing", action="store_true", help="succeed quietly when it exists")
    school.set_defaults(handler=_create_school)

    connect = commands.add_parser("connect", help="link a school to its Wonde school (token stored encrypted)")
    connect.add_argument("--school", required=True)
    connect.add_argument("--wonde-school", required=True, help="the Wonde school id (A…)")
    connect.add_argument("--token", required=True, help="the school's Wonde token")
    connect.add_argument("--domain", help="the school's Wonde region domain")
    connect.set_defaults(handler=_connect)

    read = commands.add_parser("read", help="read a school from Wonde into its MIS mirror now")
    read.add_argument("--school", required=True)
    read.add_argument("--delta", action="store_true", help="only what changed since the last read")
    read.set_defaults(handler=_read)

    matcher = commands.add_parser("match", help="match a roster CSV against a Wonde school dump, to a JSON file")
    matcher.add_argument("--wonde", required=True, metavar="SCHOOL.json")
    matcher.add_argument("--roster", required=True, metavar="ROSTER.csv")
    matcher.add_argument("--out", required=True, metavar="RESULT.json")
    matcher.set_defaults(handler=_match)

    demo = commands.add_parser(
        "demo",
        help="walk through onboarding against the built-in Wonde sandbox (narration on stdout, logs on stderr)",
    )
    demo.add_argument("--log-level", default="WARNING", help="of the JSON logs on stderr (default: WARNING)")
    demo.set_defaults(handler=_demo)

    seed = commands.add_parser(
        "seed-demo",
        help="give a school read from the sandbox an app roster that partly matches it (once; make run does)",
    )
    seed.add_argument("--school", required=True)
    seed.set_defaults(handler=_seed_demo)

    roster = commands.add_parser("import-roster", help="import an app roster CSV into a school, all or nothing")
    roster.add_argument("--school", required=True)
    roster.add_argument("file")
    roster.set_defaults(handler=_import_roster)

    add_sandbox_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args, get_settings())
    return code


if __name__ == "__main__":
    sys.exit(main())
