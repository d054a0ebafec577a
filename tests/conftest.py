"""Test fixtures over real PostgreSQL and Redis.

Each test run gets its own database (created, migrated once, dropped at the end) and its own arq
queue name, so two runs on one machine, or a developer's data, never meet. Each test runs inside a
transaction that is rolled back; requests inside it commit to savepoints. Tests that need real
commits (workers, locking) use ``committed``, which cleans up after them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from arq.connections import ArqRedis
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.auth import Role, mint_token
from app.config import JWTSettings, Settings
from app.kit.crypto import SecretBox
from app.main import create_app
from app.models import School, WebhookEvent
from app.wonde.sandbox.server import SandboxServer, running_sandbox

ROOT = Path(__file__).resolve().parent.parent
BASE_DATABASE_URL = os.environ.get(
    "BANDSYNC_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BANDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_JWT_SECRET = "test-jwt-secret-" + "x" * 32
RUN_TAG = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


async def _admin_execute(sql: str) -> None:
    url = make_url(BASE_DATABASE_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def database_url_for(name: str) -> str:
    return make_url(BASE_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["configure_logging"] = False
    return config


def create_migrated_database(name: str) -> str:
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    url = database_url_for(name)
    command.upgrade(alembic_config(url), "head")
    return url


def drop_database(name: str) -> None:
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"bandsync_test_{RUN_TAG}"
    url = create_migrated_database(name)
    yield url
    drop_database(name)


@pytest.fixture(scope="session", autouse=True)
def _drop_test_queue() -> Iterator[None]:
    """Jobs the tests enqueue stay in this run's own queue; remove it (and its job keys) at the end."""
    yield

    async def drop() -> None:
        redis = ArqRedis.from_url(REDIS_URL)
        try:
            keys = [key async for key in redis.scan_iter(match=f"bandsync:test:{RUN_TAG}*")]
            for queue in keys:
                job_ids = await redis.zrange(queue, 0, -1)
                await redis.delete(queue, *(b"arq:job:" + job_id for job_id in job_ids))
        finally:
            await redis.aclose()

    asyncio.run(drop())


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="development",
        database_url=database_url,
        redis_url=REDIS_URL,
        queue_name=f"bandsync:test:{RUN_TAG}",
        jwt=JWTSettings(secret=SecretStr(TEST_JWT_SECRET), issuer="test-issuer", audience="bandsync"),
        max_upload_bytes=1024 * 1024,
    )


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        if transaction.is_active:
            await transaction.rollback()
    await engine.dispose()


def _savepoint_sessionmaker(conn: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    async with _savepoint_sessionmaker(connection)() as s:
        yield s


@pytest.fixture
async def app(settings: Settings, connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # Requests share the test's connection: their commits are savepoints, rolled back after the test.
        application.state.sessionmaker = _savepoint_sessionmaker(connection)
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.encryption_key)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """The Wonde sandbox on a free port; a module's tests each generate their own school in it."""
    with running_sandbox() as server:
        yield server


@pytest.fixture
def auth(settings: Settings) -> TokenFactory:
    """``auth("s1")`` → Authorization headers of an admin of s1; ``auth("s1", role="teacher")``."""

    def headers(*school_ids: str, role: Role = "admin") -> dict[str, str]:
        token = mint_token(settings, school_ids=list(school_ids), role=role, subject="test-user")
        return {"Authorization": f"Bearer {token}"}

    return headers


async def _add_school(session: AsyncSession, name: str) -> School:
    record = School(id=f"sch-{uuid.uuid4().hex[:8]}", name=name)
    session.add(record)
    await session.commit()
    return record


@pytest.fixture
async def school(session: AsyncSession) -> School:
    return await _add_school(session, "Oak Primary")


@pytest.fixture
async def other_school(session: AsyncSession) -> School:
    return await _add_school(session, "Elm Academy")


@dataclass
class Committed:
    """Real commits, for workers and locks. Schools registered with ``track`` (and all their rows)
    are deleted when the test ends."""

    sessionmaker: async_sessionmaker[AsyncSession]
    schools: list[str] = field(default_factory=list)

    def track(self, school_id: str) -> str:
        self.schools.append(school_id)
        return school_id


@pytest.fixture
async def committed(database_url: str) -> AsyncIterator[Committed]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    db = Committed(async_sessionmaker(engine, expire_on_commit=False))
    yield db
    if db.schools:
        async with db.sessionmaker() as s:
            await s.execute(delete(WebhookEvent).where(WebhookEvent.school_id.in_(db.schools)))
            await s.execute(delete(School).where(School.id.in_(db.schools)))
            await s.commit()
    await engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the proof counts (tests/proof/report.py) when any proof recorded them."""
    from tests.proof.report import summary

    if lines := summary():
        terminalreporter.section("proof counts")
        for line in lines:
            terminalreporter.write_line(line)
