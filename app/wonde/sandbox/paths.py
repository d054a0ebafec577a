"""Paths with and without a trailing slash are the same route, served directly (no redirect).

Wonde's PHP client asks for ``…/schools/{id}/students/?include=…`` (its endpoint paths end in a
slash) and Wonde's own pagination examples link to ``…/students/?page=2``; our client asks without.
Starlette would answer the slash form with a 307 to the other, which a client sending a token may
refuse to follow. So the slash is dropped before routing, and the path the client sent is kept in
the scope for the links the answer builds (``links.py``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

CLIENT_PATH = "sandbox.client_path"  # scope key: the path as the client sent it


class TrailingSlashes:
    """ASGI middleware: route ``/a/b/`` as ``/a/b`` (every path but ``/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            scope[CLIENT_PATH] = path
            if len(path) > 1 and path.endswith("/"):
                scope["path"] = path.rstrip("/") or "/"
                raw: bytes | None = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
