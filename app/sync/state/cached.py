"""What is computed from a school's state, kept under the school's state version (``version``).

``@per_state_version("kind")`` on a read ``async def f(session, school_id, ...) -> Model`` keeps its answer
in the process's sealed cache (``app.kit.sealed_cache``: in Redis, encrypted, ``TTL_SECONDS``) under the
kind, ``FORMAT``, the answer's JSON schema, the other arguments, the school and its state version read
in ``session`` first: any write to the school's state gives a new version, so a kept answer is never
served after the state changed, and requests that arrive together compute it once. Without a cache
installed (workers, the CLI, a service called outside the app), or when the session holds writes not
yet flushed (which the version cannot know), ``f`` is simply called.

Whole answers are kept, sealed, rather than ids and numbers: the uploader's answers name pupils and
students, and keeping only ids would mean reading the school again on every request to name them,
which is most of what the cache saves.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar, cast, get_type_hints

from pydantic import TypeAdapter
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit import sealed_cache
from app.kit.crypto import SecretBox
from app.sync.state.repository import state_version

P = ParamSpec("P")
R = TypeVar("R")

# Bump when the matcher, the planner or what a kept answer says changes while its schema does not, so
# that answers computed by the code before are not served by the code after (a schema change is seen).
FORMAT = 1
# How long an answer is kept: a school's admin goes back and forth between its screens for minutes.
TTL_SECONDS = 15 * 60
# Answers computed at once by one API process; the others wait their turn. Each keeps the event loop busy
# ~0.3 s in short steps (reading the school, building the answer) while its matcher runs in the pool: one
# at a time halves what a request may find queued before it (bench.api_latency, 2 cores, ten views asked
# at once: /healthz p99 63 -> 32 ms with two at a time -> one) for ~10% longer over all (ten views ~8 -> ~9 s).
COMPUTING_AT_ONCE = 1


@contextmanager
def installed(redis: Redis, settings: Settings) -> Iterator[sealed_cache.SealedCache]:
    """The process's cache of answers by state version, for the app's lifespan."""
    cache = sealed_cache.SealedCache(
        redis,
        SecretBox(settings.encryption_key),
        sealed_cache.namespace_for(settings.database_url),
        TTL_SECONDS,
        computing=COMPUTING_AT_ONCE,
    )
    with sealed_cache.installed(cache):
        yield cache


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def per_state_version(
    kind: str,
) -> Callable[
    [Callable[Concatenate[AsyncSession, str, P], Awaitable[R]]],
    Callable[Concatenate[AsyncSession, str, P], Awaitable[R]],
]:
    """Keep the decorated read's answers by the school's state version (see the module's doc)."""

    def decorate(
        function: Callable[Concatenate[AsyncSession, str, P], Awaitable[R]],
    ) -> Callable[Concatenate[AsyncSession, str, P], Awaitable[R]]:
        adapter: TypeAdapter[Any] = TypeAdapter(get_type_hints(function)["return"])
        schema = _digest(json.dumps(adapter.json_schema(), sort_keys=True))

        @functools.wraps(function)
        async def kept(session: AsyncSession, school_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
            cache = sealed_cache.current()
            if cache is None or session.new or session.dirty or session.deleted:
                return await function(session, school_id, *args, **kwargs)
            version = await state_version(session, school_id)
            if version is None:  # no such school: the function answers as it would
                return await function(session, school_id, *args, **kwargs)
            arguments = _digest((args, sorted(kwargs.items()))) if args or kwargs else "-"
            # The school's id last: nothing before it holds a colon.
            key = f"{kind}:{FORMAT}:{schema}:{arguments}:{version}:{school_id}"
            computed: list[R] = []

            async def compute() -> str:
                computed.append(await function(session, school_id, *args, **kwargs))
                return adapter.dump_json(computed[0]).decode()

            text = await cache.once(key, compute)
            return computed[0] if computed else cast(R, adapter.validate_json(text))

        return kept

    return decorate
