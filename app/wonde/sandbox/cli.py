"""``bandsync sandbox`` (run a Wonde sandbox with one school) and ``bandsync sandbox-admin`` (drive one)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from app.wonde.sandbox.address import admin_target, announce, withdraw
from app.wonde.sandbox.catalogue import ENDPOINTS, FAULTS, admin_help

if TYPE_CHECKING:
    from app.wonde.sandbox.server import SandboxServer

AdminCall = tuple[str, str, Any]  # method, path under /admin, JSON body


def add_sandbox_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sandbox`` and ``sandbox-admin`` to the ``bandsync`` command."""
    serve = subparsers.add_parser("sandbox", help="run a local Wonde API over one generated or loaded school")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    _school_options(serve)
    serve.add_argument("--load", metavar="DUMP.json", help="serve this Wonde school dump instead of generating one")
    serve.add_argument(
        "--write-school",
        metavar="FILE",
        help='write {"school_id","token","app_token","urn","base_url","ca_cert"} once up',
    )
    serve.add_argument("--tls", action="store_true", help="serve https with a new self-signed certificate")
    serve.set_defaults(handler=_serve)

    admin = subparsers.add_parser(
        "sandbox-admin",
        help="drive a running Wonde sandbox",
        epilog=admin_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    admin.add_argument("--url", help="the sandbox's address (default: see below)")
    actions = admin.add_subparsers(dest="action", required=True)
    actions.add_parser("schools", help="list schools with their tokens").set_defaults(build=_schools)
    actions.add_parser("state", help="the app-wide token and each school's access").set_defaults(build=_state)
    access = actions.add_parser("access", help="set a school's access to the app (as the school would answer)")
    access.add_argument("school_id")
    access.add_argument("access", choices=["approved", "pending", "declined", "revoked", "none"])
    access.add_argument("--audited", choices=["true", "false"])
    access.add_argument(
        "--personal-details", choices=["true", "false"], help="grant (or withdraw) pupils' gender and birth dates"
    )
    access.set_defaults(build=_access)
    generate = actions.add_parser("generate", help="generate and load a school")
    _school_options(generate)
    generate.set_defaults(build=_generate)
    load = actions.add_parser("load", help="load a Wonde school dump")
    load.add_argument("file")
    load.set_defaults(build=_load)
    dump = actions.add_parser("dump", help="print a school as a dump")
    dump.add_argument("school_id")
    dump.set_defaults(build=_dump)
    event = actions.add_parser(
        "event", help="apply an MIS event (joiner, leaver, return, rename, move, ..., staff_joiner, takeover)"
    )
    event.add_argument("school_id")
    event.add_argument("kind")
    event.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="repeat for each argument")
    event.set_defaults(build=_event)
    fault = actions.add_parser("fault", help="add, list or clear fault rules")
    fault.add_argument("fault_action", choices=["add", "list", "clear"])
    fault.add_argument("--kind", choices=[entry.name for entry in FAULTS])
    fault.add_argument("--endpoint", default="any", choices=ENDPOINTS)
    fault.add_argument("--school")
    fault.add_argument("--page", type=int)
    fault.add_argument("--request", type=int, help="the Nth API request from now on")
    fault.add_argument("--times", type=int, default=1, help="-1 for always")
    fault.add_argument("--retry-after", type=int, default=1)
    fault.add_argument("--seconds", type=float, default=1.0)
    fault.set_defaults(build=_fault)
    actions.add_parser("stats", help="requests served").set_defaults(build=_stats)
    clock = actions.add_parser("clock", help="move the sandbox clock forward")
    clock.add_argument("seconds", type=float)
    clock.set_defaults(build=_clock)
    webhook = actions.add_parser("webhook", help="send a Wonde webhook for a school to URL")
    webhook.add_argument("school_id")
    webhook.add_argument("target", metavar="URL", help="where to POST the webhook")
    webhook.add_argument(
        "--type", default="schoolApproved", choices=["schoolApproved", "accessRevoked", "schoolMigration"]
    )
    webhook.set_defaults(build=_webhook)
    admin.set_defaults(handler=_admin)


def _school_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phase", choices=["primary", "secondary"], default="secondary")
    parser.add_argument("--pupils", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-personal-details",
        dest="personal_details",
        action="store_false",
        help="the school does not grant its pupils' gender and dates of birth (they are null)",
    )


def _serve(args: argparse.Namespace, _: object) -> int:
    # Imported here so the rest of ``bandsync`` does not load the sandbox's server stack.
    from app.wonde.sandbox.dump import load_dump
    from app.wonde.sandbox.generate import generate_school
    from app.wonde.sandbox.server import run_sandbox
    from app.wonde.sandbox.state import SandboxState
    from app.wonde.sandbox.tls import self_signed

    state = SandboxState()
    dump = (
        json.loads(Path(args.load).read_text())
        if args.load
        else generate_school(args.phase, args.pupils, args.seed, args.personal_details)
    )
    school_id = load_dump(state, dump)
    token = state.school(school_id).token
    urn = state.school(school_id).urn

    with tempfile.TemporaryDirectory(prefix="bandsync-sandbox-tls-") as scratch:
        tls = self_signed(Path(scratch), (args.host,)) if args.tls else None
        record: list[Path] = []

        def ready(server: SandboxServer) -> None:
            print(f"Wonde sandbox on {server.base_url}\nschool {school_id}\ntoken {token}", flush=True)
            print(f"app token {state.app_token}", flush=True)
            if tls:
                print(f"certificate {tls.cert} (trust it: it is self-signed)", flush=True)
            ca_cert = str(tls.cert) if tls else None
            if args.write_school:
                school = {
                    "school_id": school_id,
                    "token": token,
                    "app_token": state.app_token,
                    "urn": urn,
                    "base_url": server.base_url,
                }
                Path(args.write_school).write_text(json.dumps({**school, "ca_cert": ca_cert}) + "\n")
            with contextlib.suppress(OSError):  # without the record, sandbox-admin needs --url: no reason to stop
                record.append(announce(server.root_url, tls.cert if tls else None))

        # SIGTERM ends the server as Ctrl-C does, so the key and the record are removed on either.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            run_sandbox(args.host, args.port, state, on_ready=ready, tls=tls)
        finally:
            for path in record:
                withdraw(path)
    return 0


def _admin(args: argparse.Namespace, _: object) -> int:
    method, path, body = args.build(args)
    try:
        target = admin_target(args.url, os.environ)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    url = f"{target.url}/admin{path}"
    response = httpx.request(method, url, json=body, timeout=120, verify=target.verify())
    try:
        print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    except ValueError:
        print(response.text)
    if response.is_error:
        print(f"sandbox answered {response.status_code}", file=sys.stderr)
        return 1
    return 0


def _schools(_: argparse.Namespace) -> AdminCall:
    return "GET", "/schools", None


def _state(_: argparse.Namespace) -> AdminCall:
    return "GET", "/state", None


def _access(args: argparse.Namespace) -> AdminCall:
    body: dict[str, Any] = {"access": args.access}
    if args.audited is not None:
        body["audited"] = args.audited == "true"
    if args.personal_details is not None:
        body["personal_details"] = args.personal_details == "true"
    return "POST", f"/schools/{args.school_id}/access", body


def _generate(args: argparse.Namespace) -> AdminCall:
    body = {"phase": args.phase, "pupils": args.pupils, "seed": args.seed, "personal_details": args.personal_details}
    return "POST", "/schools/generate", body


def _load(args: argparse.Namespace) -> AdminCall:
    return "POST", "/schools/load", json.loads(Path(args.file).read_text())


def _dump(args: argparse.Namespace) -> AdminCall:
    return "GET", f"/schools/{args.school_id}/dump", None


def _event(args: argparse.Namespace) -> AdminCall:
    pairs = [item.split("=", 1) for item in args.arg]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit("--arg takes KEY=VALUE")
    return "POST", f"/schools/{args.school_id}/events", {"kind": args.kind, **dict(pairs)}


def _fault(args: argparse.Namespace) -> AdminCall:
    if args.fault_action == "list":
        return "GET", "/faults", None
    if args.fault_action == "clear":
        return "DELETE", "/faults", None
    if args.kind is None:
        raise SystemExit("fault add needs --kind")
    rule = {
        "kind": args.kind,
        "endpoint": args.endpoint,
        "school_id": args.school,
        "page": args.page,
        "request": args.request,
        "times": args.times,
        "retry_after": args.retry_after,
        "seconds": args.seconds,
    }
    return "POST", "/faults", rule


def _stats(_: argparse.Namespace) -> AdminCall:
    return "GET", "/stats", None


def _clock(args: argparse.Namespace) -> AdminCall:
    return "POST", "/clock", {"advance_seconds": args.seconds}


def _webhook(args: argparse.Namespace) -> AdminCall:
    return "POST", f"/schools/{args.school_id}/webhook", {"url": args.target, "payload_type": args.type}
