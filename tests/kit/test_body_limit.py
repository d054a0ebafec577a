"""One body limit for every route (issue 13, item 2): a stranger's oversized body is refused with 413
before it is read, parsed or authenticated, whether it declares its length or streams it chunked; the
roster upload keeps its own, larger limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.types import Message, Receive, Scope, Send

from app.config import Settings
from app.main import create_app
from app.models import School
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import savepoint_sessionmaker
from tests.fixtures.rosters import make_roster

MiB = 1024 * 1024
CHUNK = 64 * 1024


class Feed:
    """A request body sent chunk by chunk (httpx sends it chunked, without Content-Length), counting
    how much of it the server pulled."""

    def __init__(self, size: int, head: bytes = b'{"id": "oak", "name": "', tail: bytes = b'"}') -> None:
        self.size, self.head, self.tail, self.pulled = size, head, tail, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += len(self.head)
        yield self.head
        while self.pulled < self.size - len(self.tail):
            chunk = b"x" * min(CHUNK, self.size - len(self.tail) - self.pulled)
            self.pulled += len(chunk)
            yield chunk
        self.pulled += len(self.tail)
        yield self.tail


def _is_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == "PayloadTooLarge"


async def test_a_chunked_body_over_the_limit_is_413_before_authentication(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    feed = Feed(3 * MiB)
    response = await client.post("/v1/schools", content=feed, headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _is_413(response)  # today: 401, after reading and parsing all 3 MiB
    # The server stopped pulling as soon as the limit was passed: the rest was never read.
    assert settings.max_body_bytes < feed.pulled <= settings.max_body_bytes + CHUNK


async def test_a_declared_length_over_the_limit_is_413_at_once(client: httpx.AsyncClient, settings: Settings) -> None:
    feed = Feed(3 * MiB)
    declared = {"content-type": "application/json", "content-length": str(settings.max_body_bytes + 1)}
    response = await client.post("/v1/schools", content=feed, headers=declared)
    _is_413(response)  # today: 401
    assert feed.pulled == 0  # refused on the header alone
    whole = await client.post(
        "/v1/schools",
        content=b"{" + b" " * settings.max_body_bytes + b"}",
        headers={"content-type": "application/json"},
    )
    _is_413(whole)


@pytest.mark.parametrize(
    ("method", "path", "with_token", "unread"),
    [
        ("POST", "/v1/schools", True, None),
        ("PATCH", "/v1/schools/{school}", True, None),
        ("POST", "/v1/schools/{school}/bands", False, None),
        # Routes that answer without reading a body leave a chunked one unread (and unbuffered).
        ("POST", "/v1/webhooks/wonde?secret=wrong", False, 401),
        ("GET", "/healthz", False, 200),
        ("POST", "/v1/nowhere", False, 404),
    ],
)
async def test_every_route_has_the_limit(
    client: httpx.AsyncClient,
    settings: Settings,
    school: School,
    auth: TokenFactory,
    method: str,
    path: str,
    with_token: bool,
    unread: int | None,
) -> None:
    url = path.format(school=school.id)
    headers = {"content-type": "application/json", **(auth(school.id) if with_token else {})}
    declared = Feed(2 * MiB)
    response = await client.request(method, url, content=declared, headers={**headers, "content-length": str(2 * MiB)})
    _is_413(response)
    assert declared.pulled == 0
    chunked = Feed(2 * MiB)
    response = await client.request(method, url, content=chunked, headers=headers)
    if unread is None:
        _is_413(response)
        assert chunked.pulled <= settings.max_body_bytes + CHUNK
    else:
        assert (response.status_code, chunked.pulled) == (unread, 0)


@pytest.fixture
async def small_limit_client(settings: Settings, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 16 KiB body limit and the test settings' 1 MiB roster limit."""
    app: FastAPI = create_app(settings.model_copy(update={"max_body_bytes": 16 * 1024}))
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = savepoint_sessionmaker(connection)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c


async def test_the_roster_keeps_its_own_larger_limit(
    small_limit_client: httpx.AsyncClient, settings: Settings, school: School, auth: TokenFactory
) -> None:
    roster = make_roster(2000).encode()
    assert 16 * 1024 < len(roster) < settings.max_upload_bytes
    csv = {**auth(school.id), "content-type": "text/csv"}
    imported = await small_limit_client.post(f"/v1/schools/{school.id}/roster", content=roster, headers=csv)
    assert imported.status_code == 200, imported.text
    too_big = Feed(settings.max_upload_bytes + CHUNK, head=b"pupil_id,first_name,last_name,band,year_group\n", tail=b"")
    refused = await small_limit_client.post(f"/v1/schools/{school.id}/roster", content=too_big, headers=csv)
    _is_413(refused)
    assert too_big.pulled <= settings.max_upload_bytes + CHUNK
    # Elsewhere the small limit holds, token or not.
    json_body = {"id": school.id, "name": "x" * 20_000}
    _is_413(await small_limit_client.post("/v1/schools", json=json_body, headers=auth(school.id)))
    _is_413(await small_limit_client.patch(f"/v1/schools/{school.id}", json={"name": "x" * 20_000}))


# The middleware on its own, around toy apps.


def _echo_length(swallow: bool) -> Any:
    """An app that reads its whole body and answers its length; with ``swallow`` it catches whatever
    reading raises and answers 400 instead, as FastAPI does for a body it cannot read."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        size, more = 0, True
        try:
            while more:
                message = await receive()
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
            status, text = 200, str(size).encode()
        except Exception:
            if not swallow:
                raise
            status, text = 400, b"cannot read"
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": text})

    return app


def _toy_client(app: Any, limit: int = 100, per_path: tuple[tuple[str, int], ...] = ()) -> httpx.AsyncClient:
    from app.kit.body_limit import BodyLimitMiddleware  # imported here, so the API tests run without it

    wrapped = BodyLimitMiddleware(app, max_bytes=limit, per_path=per_path)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://test")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize("swallow", [False, True])
async def test_the_middleware_counts_the_bytes_as_they_stream(swallow: bool) -> None:
    async with _toy_client(_echo_length(swallow)) as client:
        at_limit = await client.post("/", content=_chunks(b"a" * 60, b"b" * 40))
        assert (at_limit.status_code, at_limit.text) == (200, "100")
        over = await client.post("/", content=_chunks(b"a" * 60, b"b" * 41))
        # Whatever the app made of the cut-off body, the answer is the 413.
        _is_413(over)
        assert over.headers["connection"] == "close"
        declared = await client.post("/", content=b"c" * 101)
        _is_413(declared)


async def test_a_path_may_have_its_own_limit() -> None:
    async with _toy_client(_echo_length(False), per_path=(("/upload/{name}", 1000),)) as client:
        assert (await client.post("/upload/x", content=b"u" * 1000)).text == "1000"
        _is_413(await client.post("/upload/x", content=_chunks(b"u" * 600, b"u" * 401)))
        _is_413(await client.post("/upload/x/more", content=b"u" * 101))
        _is_413(await client.post("/other", content=b"u" * 101))


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    from app.kit.body_limit import BodyLimitMiddleware

    await BodyLimitMiddleware(app, max_bytes=1)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


def test_every_operation_with_a_body_documents_the_413(app: FastAPI) -> None:
    operations = [op for item in app.openapi()["paths"].values() for op in item.values() if "requestBody" in op]
    assert operations
    assert all(op["responses"]["413"]["description"] == "The request body is too large." for op in operations)
