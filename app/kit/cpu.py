"""Pure CPU-bound work (the matcher) in other processes, so that the event loop keeps answering.

Processes, not threads: the matcher is pure Python and holds the GIL while it runs, so on a thread it
would still slow every request of the process (``app.kit.parallel``'s threads suit argon2, which lets
the GIL go). One pool per API process, sized to the cores, opened by the app's lifespan and shut down
with it (``running``). Its processes start on first use, forked from multiprocessing's fork server,
which has imported the modules named in ``preload`` once (``start``): a new process costs milliseconds
and inherits nothing of the API (no sockets, no event loop, no threads). As with any start method but
fork, each new process imports the program's main module again, so that module must keep its work
under ``if __name__ == "__main__"`` (uvicorn's and pytest's do). Pool processes run at a lower priority
than the API's own, and leave if the process that started them dies. Where no pool is running (a
worker job, the CLI, a test calling a service directly), ``off_loop`` runs the work in the caller's
process, as before.

Only plain data crosses: arguments and results are pickled (the matcher's input and result for a
2,000-pupil school, ~0.6 MB each way, take ~25 ms), so functions must be module-level and pure.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import forkserver
from typing import ParamSpec, TypeVar

from app.kit.parallel import cores

P = ParamSpec("P")
R = TypeVar("R")

_PARENT_CHECK_SECONDS = 1.0


# Pool processes yield the CPU to the API's event loop: a request waits for no matcher.
_NICENESS = 10


def _start_process() -> None:
    """In each pool process: a lower priority than the API's, and exit once the process that forked it
    has gone (the fork server, which itself leaves when the API process dies), so a killed API leaves
    no process behind."""
    os.nice(_NICENESS)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="leave-with-parent", daemon=True).start()


class CpuPool:
    """A process pool for pure functions; ``in_flight`` counts the calls not yet answered."""

    def __init__(self, processes: int, preload: Sequence[str] = ()) -> None:
        self._context = multiprocessing.get_context("forkserver")
        # Takes effect when the fork server starts (once per process, at the first pool's first call).
        self._context.set_forkserver_preload(list(preload))
        self._processes = processes
        self._executor = self._new_executor()
        self.in_flight = 0

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self._processes, mp_context=self._context, initializer=_start_process)

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``function(*args, **kwargs)`` in a pool process. A pool whose process died (killed for
        memory, say) is replaced, and the call made once more in the new one."""
        loop = asyncio.get_running_loop()
        call = functools.partial(function, *args, **kwargs)
        self.in_flight += 1
        try:
            try:
                return await loop.run_in_executor(self._executor, call)
            except BrokenProcessPool:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
                return await loop.run_in_executor(self._executor, call)
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        """Start the fork server now, in a thread (it imports ``preload``, ~0.5 s), rather than at the
        first call, which would wait for it on the event loop. Once per process; later pools reuse it."""
        await asyncio.to_thread(forkserver.ensure_running)

    def shutdown(self) -> None:
        """Stop taking work; calls not started are dropped, the processes leave once idle."""
        self._executor.shutdown(wait=False, cancel_futures=True)


_running: list[CpuPool] = []


@contextmanager
def running(processes: int | None = None, preload: Sequence[str] = ()) -> Iterator[CpuPool]:
    """Serve ``off_loop`` from a new pool (one process per core unless told) until the block ends."""
    pool = CpuPool(processes or cores(), preload)
    _running.append(pool)
    try:
        yield pool
    finally:
        _running.remove(pool)
        pool.shutdown()


def current() -> CpuPool | None:
    """The pool ``off_loop`` uses now, if any."""
    return _running[-1] if _running else None


async def off_loop(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)`` in the running pool, or here when there is none."""
    pool = current()
    if pool is None:
        return function(*args, **kwargs)
    return await pool.run(function, *args, **kwargs)
