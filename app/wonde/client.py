"""The Wonde API client.

One ``WondeClient`` per process wraps one shared ``httpx.AsyncClient`` (connection pooling, explicit
timeouts). ``client.school(...)`` gives a ``SchoolClient`` bound to one school's token and region,
whose list methods are ``async for`` iterators that follow ``meta.pagination.next``.

Transient failures (429, 5xx, timeouts, connection errors, a body that is not JSON) are retried with
exponential backoff and jitter, honouring ``Retry-After``, up to a bounded number of attempts.
401/403 and 404 are not retried. A ``next`` link to another host is refused: the token would follow it.
So is a school's region domain that is not a bare host (and port) on the allow-list: the configured
Wonde host, or a host under ``wonde.com``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from app.config import WondeSettings
from app.wonde.errors import (
    WondeAuthError,
    WondeNotFound,
    WondeProtocolError,
    WondeRetriesExhausted,
    WondeSchoolInactive,
    WondeTransientError,
)
from app.wonde.schemas import (
    Unreadable,
    WondeClass,
    WondeDeletion,
    WondeGroup,
    WondeListPage,
    WondeSchool,
    WondeSchoolMeta,
    WondeStudent,
    usable_id,
)

logger = logging.getLogger(__name__)

PER_PAGE = 200
STUDENT_INCLUDES = "classes,year,education_details,groups"
M = TypeVar("M", bound=BaseModel)
# A region domain is a DNS name (or dotted IPv4) and an optional port, and nothing else: no scheme,
# userinfo, path, query, fragment, escapes or whitespace. Compared lower-cased, exactly.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_AND_PORT = re.compile(rf"(?P<host>{_LABEL}(?:\.{_LABEL})*)(?::(?P<port>[0-9]{{1,5}}))?", re.ASCII | re.IGNORECASE)
WONDE_DOMAIN_SUFFIX = ".wonde.com"
_DEFAULT_PORTS = {"http": 80, "https": 443}
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A Retry-After longer than this is treated as this long: a read must finish within the night.
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Exponential backoff with jitter (between half and all of the doubling step)."""
        step: float = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return step * (0.5 + rng() / 2)


def format_updated_after(moment: datetime) -> str:
    """Wonde's filter format: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    if moment.tzinfo is None:
        raise ValueError("updated_after must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        wait: float = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError):
        return None
    return max(0.0, wait)


def create_http_client(timeout_seconds: float = 20.0) -> httpx.AsyncClient:
    """The process-wide HTTP client: explicit timeouts, a bounded pool, no redirects followed."""
    timeout = httpx.Timeout(connect=5.0, read=timeout_seconds, write=10.0, pool=10.0)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    return httpx.AsyncClient(
        timeout=timeout, limits=limits, follow_redirects=False, headers={"Accept": "application/json"}
    )


def _host_and_port(domain: str) -> tuple[str, int | None]:
    """``domain`` as a lower-cased host and an optional port; ``WondeProtocolError`` if it is anything more."""
    match = _HOST_AND_PORT.fullmatch(domain)
    port = int(match["port"]) if match and match["port"] else None
    if match is None or len(match["host"]) > 253 or (port is not None and not 0 < port < 65536):
        raise WondeProtocolError(f"refusing region domain {domain[:100]!r}: not a host and optional port")
    return match["host"].lower(), port


class WondeClient:
    @classmethod
    def from_settings(cls, settings: WondeSettings, http: httpx.AsyncClient) -> WondeClient:
        retry = RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay=settings.retry_base_delay_seconds,
            max_retry_after=settings.max_retry_after_seconds,
        )
        return cls(http, base_url=settings.base_url, retry=retry, missing_checks=settings.missing_student_checks)

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        missing_checks: int = 50,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.rng = rng
        # How many students missing from a full read are looked up one by one (see app.sync.mirror.missing).
        self.missing_checks = missing_checks
        # Ask for cursor pages (tests of the page-number fallback turn it off).
        self.cursor_pages = True

    def base_for(self, domain: str | None) -> str:
        """The API root for a school's region domain (Wonde: calling the wrong region returns no data).

        The domain must be a host and optional port and nothing else, and the host either the
        configured one (on its port) or a host under ``wonde.com`` (always over https). Anything else
        raises ``WondeProtocolError`` before a request is made, so a tampered domain cannot make us send
        a school's token elsewhere.
        """
        configured = urlsplit(self.base_url)
        if not domain or domain == configured.netloc:
            return self.base_url
        host, port = _host_and_port(domain)
        default_port = _DEFAULT_PORTS.get(configured.scheme)
        if host == configured.hostname and (port or default_port) == (configured.port or default_port):
            return self.base_url
        if host.endswith(WONDE_DOMAIN_SUFFIX):  # the pattern guarantees a label before the suffix
            return f"https://{host if port is None else f'{host}:{port}'}{configured.path}"
        raise WondeProtocolError(f"refusing region domain {domain[:100]!r}: not a Wonde host")

    def school(self, school_id: str, token: str, *, domain: str | None = None) -> SchoolClient:
        return SchoolClient(self, school_id, token, self.base_for(domain))


class SchoolClient:
    """Calls for one school with its own token.

    ``requests_made`` counts every HTTP request, retries included; ``responses`` tallies how each one
    ended, by HTTP status (``"200"``, ``"429"`` …) or ``"timeout"``/``"error"`` when none came back;
    ``pages_read`` counts list pages received, for progress.
    """

    def __init__(self, client: WondeClient, school_id: str, token: str, base_url: str) -> None:
        self._client = client
        self.school_id = school_id
        self._token = token
        self.base_url = base_url
        self.requests_made = 0
        self.responses: Counter[str] = Counter()
        self.pages_read = 0

    @property
    def missing_checks(self) -> int:
        """How many students missing from a full read may be looked up one by one."""
        return self._client.missing_checks

    # -- single objects --------------------------------------------------------------------------

    async def get_school(self) -> WondeSchool:
        body = await self._request("GET", f"{self.base_url}/schools/{self.school_id}")
        return self._validate(WondeSchool, self._data(body), "school")

    async def get_meta(self) -> WondeSchoolMeta:
        body = await self._request("GET", f"{self.base_url}/meta/schools/{self.school_id}")
        return self._validate(WondeSchoolMeta, self._data(body), "school meta")

    async def get_student(self, student_id: str) -> WondeStudent | None:
        """One student as Wonde has them now (with the includes of a list), or None when Wonde does not
        know them (they left, or the school excluded them)."""
        try:
            body = await self._request(
                "GET", f"{self.base_url}/schools/{self.school_id}/students/{student_id}", {"include": STUDENT_INCLUDES}
            )
        except WondeNotFound:
            return None
        return self._validate(WondeStudent, self._data(body), "student")

    async def revoke_access(self) -> dict[str, Any]:
        body = await self._request("DELETE", f"{self.base_url}/schools/{self.school_id}/revoke-access")
        return body if isinstance(body, dict) else {}

    # -- lists -----------------------------------------------------------------------------------

    def students(self, *, updated_after: datetime | None = None) -> AsyncIterator[WondeStudent | Unreadable]:
        return self._list("students", WondeStudent, {"include": STUDENT_INCLUDES}, updated_after)

    def leavers(self) -> AsyncIterator[WondeStudent | Unreadable]:
        """Students who left the school (Wonde's ``students-leaver``)."""
        return self._list("students-leaver", WondeStudent, {}, None)

    def classes(self, *, updated_after: datetime | None = None) -> AsyncIterator[WondeClass | Unreadable]:
        return self._list("classes", WondeClass, {}, updated_after)

    def groups(
        self, *, group_type: str = "REGISTRATION", updated_after: datetime | None = None
    ) -> AsyncIterator[WondeGroup | Unreadable]:
        return self._list("groups", WondeGroup, {"type": group_type}, updated_after)

    def deletions(
        self, *, updated_after: datetime | None = None, kind: str | None = None
    ) -> AsyncIterator[WondeDeletion | Unreadable]:
        return self._list("deletions", WondeDeletion, {"type": kind} if kind else {}, updated_after)

    async def _list(
        self, resource: str, model: type[M], params: dict[str, str], updated_after: datetime | None
    ) -> AsyncIterator[M | Unreadable]:
        # Cursor pages where Wonde offers them: keyed on the last id served, they do not shift when the
        # MIS changes during the walk. A Wonde that ignores the flag answers with page numbers, and the
        # ``next`` links are followed as they come either way.
        query = {**params, "per_page": str(PER_PAGE)} | ({"cursor": "true"} if self._client.cursor_pages else {})
        if updated_after is not None:
            query["updated_after"] = format_updated_after(updated_after)
        url: str | None = f"{self.base_url}/schools/{self.school_id}/{resource}"
        seen: set[str] = set()
        page_number = 0
        while url is not None:
            if url in seen:
                raise WondeProtocolError(f"{resource}: pagination returned to page {url.split('page=')[-1]}")
            seen.add(url)
            page_number += 1
            body = await self._request("GET", url, params=query if page_number == 1 else None)
            try:
                page = WondeListPage.model_validate(body)
            except ValidationError as exc:
                raise WondeProtocolError(f"{resource} page {page_number} is not a Wonde list") from exc
            self.pages_read += 1
            for index, item in enumerate(page.data):
                yield self._item(model, item, f"{resource} page {page_number} item {index + 1}")
            pagination = page.meta.pagination if page.meta else None
            url = pagination.next if pagination and pagination.more is not False else None
            if url is not None:
                self._check_same_host(url, resource)

    # -- plumbing --------------------------------------------------------------------------------

    def _check_same_host(self, url: str, resource: str) -> None:
        expected, found = urlsplit(self.base_url), urlsplit(url)
        if (found.scheme, found.netloc) != (expected.scheme, expected.netloc):
            raise WondeProtocolError(f"{resource}: refusing a next link to another host ({found.netloc or '?'})")

    @staticmethod
    def _data(body: Any) -> Any:
        if not isinstance(body, dict) or "data" not in body:
            raise WondeProtocolError("response has no data")
        return body["data"]

    @staticmethod
    def _validate(model: type[M], item: Any, where: str) -> M:
        try:
            return model.model_validate(item)
        except ValidationError as exc:
            # Field names only, and not the error itself (its text holds the values: a child's name).
            raise WondeProtocolError(f"{where} cannot be read (fields: {', '.join(_fields(exc))})") from None

    @staticmethod
    def _item(model: type[M], item: Any, where: str) -> M | Unreadable:
        """One list item; ``Unreadable`` when it has a usable id but fields that cannot be read, so that
        the caller can set that one record aside. An item without a usable id cannot be told apart
        from any other: the list cannot be trusted."""
        try:
            return model.model_validate(item)
        except ValidationError as exc:
            if (wonde_id := usable_id(item)) is None:
                raise WondeProtocolError(f"{where} cannot be read (fields: {', '.join(_fields(exc))})") from None
            return Unreadable(wonde_id, tuple(_fields(exc)))

    async def _request(self, method: str, url: str, params: dict[str, str] | None = None) -> Any:
        policy = self._client.retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return await self._attempt(method, url, params)
            except WondeTransientError as exc:
                if attempt == policy.attempts:
                    raise WondeRetriesExhausted(attempt, exc) from exc
                delay = policy.backoff(attempt, self._client.rng)
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, policy.max_retry_after))
                logger.warning(
                    "wonde request failed, retrying",
                    extra={"wonde_school_id": self.school_id, "attempt": attempt, "reason": str(exc), "delay": delay},
                )
                await self._client.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, method: str, url: str, params: dict[str, str] | None) -> Any:
        self.requests_made += 1
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            response = await self._client.http.request(method, url, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            self.responses["timeout"] += 1
            raise WondeTransientError(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            self.responses["error"] += 1
            raise WondeTransientError(f"connection failed ({type(exc).__name__})") from exc
        status = response.status_code
        self.responses[str(status)] += 1
        if status == 429:
            raise WondeTransientError("rate limited (429)", retry_after=_retry_after(response))
        if status == 423:
            # The school is inactive in Wonde: worth asking again later, never read as an empty school.
            raise WondeSchoolInactive("the school is inactive in Wonde (423)", retry_after=_retry_after(response))
        if status >= 500:
            raise WondeTransientError(f"server error ({status})", retry_after=_retry_after(response))
        if status in (401, 403):
            raise WondeAuthError(f"access refused ({status}): the school's Wonde connection is broken")
        if status == 404:
            raise WondeNotFound("not found (404)")
        if status != 200:
            raise WondeProtocolError(f"unexpected status {status}")
        try:
            return json.loads(response.content)
        except ValueError:
            # A truncated body, or a load balancer's HTML maintenance page served with a 200.
            raise WondeTransientError("the body is not valid JSON (truncated, or a maintenance page?)") from None


def _fields(exc: ValidationError) -> list[str]:
    """The names of the fields a validation error is about (``"item"`` for the whole of it)."""
    return sorted({".".join(str(p) for p in error["loc"]) or "item" for error in exc.errors()})
