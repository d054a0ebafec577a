"""Slow work that releases the GIL (argon2 hashing), spread over every core without blocking the
event loop.

Threads, not processes: argon2-cffi releases the GIL while it hashes, so threads use every core
(bench/README.md, "A whole school new to the app", has the figures), and they see the process as it is
(a test's light hasher, the settings) with nothing to pickle, no child process to start with the right
method, and no pool to outlive a worker's fork or shutdown. Each call has its own pool, sized to the
cores: two jobs hashing at once share the cores by the OS's scheduling, and a sync with two joiners is
not queued behind a merge's two thousand.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


async def map_on_every_core(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``function`` of each item, in order, run on as many threads as there are cores while the event
    loop carries on. If one call fails (or the caller is cancelled), the calls not yet started are
    dropped and the error is raised; the few already running finish in the background."""
    if not items:
        return []
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(min(len(items), cores()), thread_name_prefix="every-core")
    try:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, function, item) for item in items)))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
