"""The door every Wonde API request passes: it is counted, then any fault rule that hits it is applied.

Written as plain ASGI middleware because a truncated answer has to rewrite the body (and its
``Content-Length``) after the route has produced it. Admin requests pass untouched and uncounted.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.wonde.sandbox.cursor import page_number
from app.wonde.sandbox.events import joiner, leaver
from app.wonde.sandbox.faults import FaultRule
from app.wonde.sandbox.state import SandboxState

API_PREFIX = "/v1.0"
# What a load balancer serves while the API is down for maintenance: a 200 that is not JSON.
MAINTENANCE_PAGE = "<!DOCTYPE html><html><body><h1>Down for maintenance</h1><p>Back soon.</p></body></html>"


def _first_leaves(state: SandboxState, school_id: str) -> None:
    school = state.school(school_id)
    if school.students:
        leaver(state, school_id, min(school.students))


def _one_joins(state: SandboxState, school_id: str) -> None:
    joiner(state, school_id)


# The MIS changing while a read walks the pages (see ``faults``).
WALK_EVENTS = {"leaver_during_walk": _first_leaves, "joiner_during_walk": _one_joins}
# Set on a request the ``rosters_undated`` fault hits; the class and group lists read it.
ROSTERS_UNDATED = "rosters_undated"
# "/schools/A1/classes/A2" is the school's "classes" endpoint too (one class of it).
_SCHOOL_PATH = re.compile(r"^/v1\.0/(?P<meta>meta/)?schools/(?P<school>[^/]+)(?:/(?P<endpoint>[^/]+)(?:/[^/]+)?)?/?$")
_SCHOOL_LISTS = frozenset({"pending", "audited", "declined", "revoked", "all", "offline"})  # app-level, not ids


def error_response(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error in the OAuth-style body the sandbox uses for every refusal (Wonde's own is undocumented)."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def describe_path(path: str) -> tuple[str | None, str]:
    """The school a request is for and the endpoint name fault rules target ("students", "school", ...)."""
    match = _SCHOOL_PATH.match(path)
    if match is None:
        return None, "schools" if path.rstrip("/") == f"{API_PREFIX}/schools" else "other"
    if match["school"] in _SCHOOL_LISTS and not match["meta"] and match["endpoint"] is None:
        return None, "schools"
    endpoint = "meta" if match["meta"] else match["endpoint"] or "school"
    return match["school"], endpoint


def _page(query_string: bytes) -> int:
    """The page asked for: ``page``, or the page a ``cursor`` leads to; 1 when neither says."""
    query = parse_qs(query_string.decode("latin-1"))
    if (cursors := query.get("cursor")) and cursors[-1].strip().lower() != "false":
        return page_number(cursors[-1])
    values = query.get("page", [])
    return int(values[-1]) if values and values[-1].isdigit() else 1


class ApiGate:
    """Middleware in front of the Wonde routes: count, then serve, refuse, delay or cut the answer."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(f"{API_PREFIX}/"):
            await self.app(scope, receive, send)
            return
        school_id, endpoint = describe_path(scope["path"])
        number = self.state.count_request(school_id)
        rule = self.state.faults.take(number, school_id, endpoint, _page(scope["query_string"]))
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "slow":
            await asyncio.sleep(rule.seconds)
            await self.app(scope, receive, send)
        elif rule.kind == "truncated":
            await self.app(scope, receive, _truncating(send))
        elif rule.kind in WALK_EVENTS and school_id is not None:
            WALK_EVENTS[rule.kind](self.state, school_id)
            await self.app(scope, receive, send)
        elif rule.kind == "rosters_undated":
            scope.setdefault("state", {})[ROSTERS_UNDATED] = True  # the route reads it as request.state
            await self.app(scope, receive, send)
        elif rule.kind == "html":
            await HTMLResponse(MAINTENANCE_PAGE)(scope, receive, send)
        else:
            await _refusal(rule)(scope, receive, send)


def _refusal(rule: FaultRule) -> JSONResponse:
    if rule.kind == "429":
        headers = {"Retry-After": str(rule.retry_after)}
        return error_response(429, "too_many_requests", "Rate limit exceeded (sandbox fault).", headers)
    if rule.kind == "401":
        return error_response(401, "access_denied", "The resource owner or authorization server denied the request.")
    if rule.kind == "423":
        return error_response(423, "locked", "The school is inactive (sandbox fault).")
    if rule.kind == "503":
        return error_response(503, "service_unavailable", "Service unavailable (sandbox fault).")
    return error_response(500, "server_error", "Internal server error (sandbox fault).")


def _truncating(send: Send) -> Send:
    """A ``send`` that holds the response back and delivers only the first half of its body."""
    start: Message = {}
    body = bytearray()

    async def send_half(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body", False):
            return
        half = bytes(body[: len(body) // 2])
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(half)).encode())]})
        await send({"type": "http.response.body", "body": half})

    return send_half
