"""One transaction per request or job: open a session, let the work flush, commit once, then send
the jobs the work enqueued. Any exception rolls everything back and sends nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.jobs import JobQueue, take_pending


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], queue: JobQueue | None
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
        await session.commit()
    jobs = take_pending(session)
    if jobs and queue is not None:
        await queue.send(jobs)


class UnitOfWorkRoute(APIRoute):
    """Wraps every endpoint in a unit of work, committed before the response is sent.

    The session is put on ``request.state`` (see ``get_session``) rather than made by a yield
    dependency, so when the commit happens does not depend on FastAPI's dependency teardown order.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            state = request.app.state
            async with unit_of_work(state.sessionmaker, state.queue) as session:
                request.state.session = session
                return await handler(request)

        return handle


def get_session(request: Request) -> AsyncSession:
    """The request's session; it is committed by ``UnitOfWorkRoute`` after the endpoint returns."""
    session: AsyncSession = request.state.session
    return session
