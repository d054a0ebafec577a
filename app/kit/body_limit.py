"""One limit on every request body, enforced as the bytes arrive, before anything reads, parses or
authenticates the request.

A pure ASGI middleware: a ``Content-Length`` above the limit is answered 413 at once, without reading a
byte; a body without one (chunked) is counted message by message and cut off as soon as it passes the
limit. Whatever the app then makes of the cut-off body (FastAPI turns a failed read into a 400), the
answer is the 413, in the service's error envelope, with ``Connection: close`` since the rest of the
body was never read. A path may have its own limit (the roster upload allows more than JSON routes);
the routes' own smaller limits (the webhook's) still apply after this one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge

_DIGITS = 18  # a longer Content-Length is larger than any limit


class _BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body has passed the limit; the middleware answers."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, per_path: Iterable[tuple[str, int]] = ()) -> None:
        """``max_bytes`` for every path but those in ``per_path``: (route path like
        ``/v1/schools/{school_id}/roster``, its own limit)."""
        self.app = app
        self.max_bytes = max_bytes
        self.per_path: list[tuple[re.Pattern[str], int]] = [(compile_path(path)[0], limit) for path, limit in per_path]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.per_path:
            if pattern.match(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, f"The body is {declared} bytes; the most accepted is {limit} bytes.")
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded and not response_started:
                return  # the app's answer to a body it never got whole: replaced by the 413 below
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # Once the body was cut off, whatever the app raised about it is answered with the 413.
            if not exceeded or response_started:
                raise
        if exceeded and not response_started:
            await _refuse(send, f"The body is larger than {limit} bytes, the most accepted.")


def _declared_length(scope: Scope) -> int | None:
    """The largest ``Content-Length`` the request declares (the server refuses conflicting ones)."""
    lengths = [
        int(value) if len(value) <= _DIGITS else 10**_DIGITS  # int() refuses thousands of digits
        for name, value in scope["headers"]
        if name.lower() == b"content-length" and value.isdigit()
    ]
    return max(lengths, default=None)


async def _refuse(send: Send, detail: str) -> None:
    error = PayloadTooLarge(detail)
    body = json.dumps({"error": error.error, "detail": error.detail}, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def document_body_limit(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the limit's 413 on every operation that takes a body."""
    too_large = {
        "description": PayloadTooLarge().default_detail(),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault(str(PayloadTooLarge.status_code), too_large)
    return schema
