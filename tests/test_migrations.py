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
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import Base
from app.sync.runs.failures import SENTENCES, FailureCode
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


def test_old_run_errors_get_their_code_and_lose_any_quoted_record(scratch_database: str) -> None:
    """Before failure codes, a run's error was the exception's text: a database error's quoted the refused
    row and the statement's parameters. Migrating gives each its code and keeps only safe texts."""
    leaky = "IntegrityError: (CheckViolationError) Failing row contains (Amelia, Hartley, H801200001236)\n[SQL: INSERT]"
    safe_read = "WondeAuthError: access refused (401): the school's Wonde connection is broken"
    errors = {
        "WondeRetriesExhausted: gave up after 5 attempts: server error (503)": "wonde_unavailable",
        "WondeProtocolError: Wonde returned no students; nothing was changed": "school_inactive",
        "WondeProtocolError: student S1 was returned twice": "read_inconsistent",
        "ReadNotPossible: the school is not connected to Wonde": "not_connected",
        "UnresolvedIssues: 3 pupil(s) need a decision first.": "unresolved_issues",
        "recovery: its job kept stopping before it finished (sent again 3 time(s)); given up": "given_up",
        leaky: "database_error",
        f"the read failed, nothing was applied: {leaky}": "database_error",
        f"the read failed, nothing was applied: {safe_read}": "wonde_unauthorised",
        "KeyError: 'Amelia'": "internal_error",
    }
    config = alembic_config(scratch_database)
    command.downgrade(config, "7d1b5e3c9a40")

    def add_runs(connection: Connection) -> None:
        connection.execute(text("INSERT INTO schools (id, name) VALUES ('old', 'Old Primary')"))
        for error in errors:
            connection.execute(
                text(
                    "INSERT INTO sync_runs (id, school_id, kind, trigger, status, error)"
                    " VALUES (gen_random_uuid(), 'old', 'full_read', 'manual', 'failed', :error)"
                ),
                {"error": error},
            )
        connection.commit()

    _inspect(scratch_database, add_runs)
    command.upgrade(config, "head")

    def runs(connection: Connection) -> list[tuple[str, str]]:
        return [(code, error) for code, error in connection.execute(text("SELECT failure_code, error FROM sync_runs"))]

    migrated = _inspect(scratch_database, runs)
    assert sorted(code for code, _ in migrated) == sorted(errors.values())
    assert [error for _, error in migrated if "Amelia" in error or "H801200001236" in error] == []
    kept = {error for _, error in migrated}
    assert {e for e in errors if "Amelia" not in e} <= kept  # safe texts are left as they were
    assert SENTENCES[FailureCode.DATABASE_ERROR] in kept
    assert f"the read failed, nothing was applied: {SENTENCES[FailureCode.DATABASE_ERROR]}" in kept
    assert SENTENCES[FailureCode.INTERNAL_ERROR] in kept
