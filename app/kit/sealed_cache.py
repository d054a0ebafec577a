"""A short-lived cache in Redis whose values are sealed with the service's ``SecretBox``, and computed
once per key however many requests ask at the same moment.

Sealed, because what is kept may carry children's names, and Redis is the queue's server, persisted to
disk: under Fernet (authenticated encryption) a value in Redis, in its snapshots or its memory, reads
as nothing without the service's keys, and a value that does not open under them (written under a
retired key, or not by us) is a miss. Keys carry no personal data (the caller's kinds, versions and
ids). Redis unreachable is a miss, never an error: the caller computes, as it would without a cache.

Computed once: the first request for a key that is not in Redis computes it; the requests arriving in
this process while it does wait for its value instead of computing it again. If the first fails or is
cancelled, each waiting request computes for itself. (Another API process may compute the same key at
the same time; the value is the same.) At most ``computing`` values are computed at once in a process
(the others wait their turn): what a computation holds in memory and does on the event loop (reading a
school, building an answer) stays bounded however many admins ask at once, and so do the loop's pauses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from app.kit.crypto import SecretBox

logger = logging.getLogger(__name__)


def namespace_for(database_url: str) -> str:
    """A key prefix of one database's own (its host, port and name; never its password): versions are
    a database's, so two databases served by one Redis never read each other's values."""
    where = make_url(database_url).set(password=None).render_as_string(hide_password=True)
    return "bandsync:cache:" + hashlib.sha256(where.encode()).hexdigest()[:12]


class SealedCache:
    def __init__(self, redis: Redis, box: SecretBox, namespace: str, ttl_seconds: int, computing: int) -> None:
        self._redis = redis
        self._box = box
        self._namespace = namespace
        self._ttl = ttl_seconds
        self._flights: dict[str, asyncio.Future[str | None]] = {}
        self._computing = asyncio.Semaphore(computing)

    async def get(self, key: str) -> str | None:
        """The value kept under ``key``; None when there is none, it does not open, or Redis is away."""
        try:
            sealed = await self._redis.get(f"{self._namespace}:{key}")
        except (RedisError, OSError) as exc:
            logger.warning("cache unavailable", extra={"error": type(exc).__name__})
            return None
        if sealed is None:
            return None
        try:
            return self._box.decrypt(sealed)
        except ValueError:
            return None

    async def put(self, key: str, value: str) -> None:
        try:
            await self._redis.set(f"{self._namespace}:{key}", self._box.encrypt(value), ex=self._ttl)
        except (RedisError, OSError) as exc:
            logger.warning("cache unavailable", extra={"error": type(exc).__name__})

    async def once(self, key: str, compute: Callable[[], Awaitable[str]]) -> str:
        """The value under ``key``: from Redis, from the request of this process already computing it,
        or computed here (and kept)."""
        while True:
            if (kept := await self.get(key)) is not None:
                return kept
            flight = self._flights.get(key)
            if flight is None:
                break
            # Shielded: a waiting request that goes away does not cancel the others' wait.
            if (value := await asyncio.shield(flight)) is not None:
                return value
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        value = None
        try:
            async with self._computing:
                value = await compute()
            await self.put(key, value)
            return value
        finally:
            del self._flights[key]
            flight.set_result(value)  # None: failed or cancelled, so each waiting request computes


_installed: list[SealedCache] = []


@contextmanager
def installed(cache: SealedCache) -> Iterator[SealedCache]:
    """Make ``cache`` the process's (``current``) until the block ends: the app's lifespan."""
    _installed.append(cache)
    try:
        yield cache
    finally:
        _installed.remove(cache)


def current() -> SealedCache | None:
    return _installed[-1] if _installed else None
