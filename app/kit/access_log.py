"""One JSON line per request: method, path, status, duration. Never the query string: the Wonde
webhook's secret travels there. (Run uvicorn with --no-access-log; its own line would carry it.)"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.log_context import log_context

logger = logging.getLogger("bandsync.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # The school a request is about, from its path: every line the request writes carries it.
        parts = scope["path"].split("/")
        school = parts[3] if len(parts) > 3 and parts[1:3] == ["v1", "schools"] else None
        with log_context(school_id=school):
            try:
                await self.app(scope, receive, record_status)
            finally:
                logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
