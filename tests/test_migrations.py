"""The migrations are the schema: they must go up, down and up again, and match the models."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import Base
from tests.fixtures.database import alembic_config, create_migrated_database, drop_database

T = TypeVar("T")


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"bandsync_migrations_{uuid.uuid4().hex[:8]}"
    yield create_migrated_database(name)
    drop_database(name)


def _inspect(url: str, look: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            result = await connection.run_sync(look)
        await engine.dispose()
        return result

    return asyncio.run(run())


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_upgrade_downgrade_upgrade(scratch_database: str) -> None:
    config = alembic_config(scratch_database)
    assert set(Base.metadata.tables) <= _inspect(scratch_database, _table_names)
    command.downgrade(config, "base")
    assert _inspect(scratch_database, _table_names) == {"alembic_version"}
    command.upgrade(config, "head")
    assert set(Base.metadata.tables) <= _inspect(scratch_database, _table_names)


def test_models_and_migrations_agree(scratch_database: str) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    assert _inspect(scratch_database, differences) == []
