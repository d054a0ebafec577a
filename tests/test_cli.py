"""The ``bandsync`` command: tokens, the OpenAPI drift check and roster import from a file."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import cli
from app.auth import decode_token
from app.config import Settings
from app.models import Pupil
from tests.fixtures.database import Committed
from tests.fixtures.rosters import make_roster


@pytest.fixture(autouse=True)
def use_test_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)


def test_token_mints_a_token_the_service_accepts(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--school", "s1", "--school", "s2", "--role", "teacher"]) == 0
    principal = decode_token(capsys.readouterr().out.strip(), settings)
    assert principal.school_ids == frozenset({"s1", "s2"})
    assert principal.role == "teacher"


def test_openapi_check_fails_when_the_committed_spec_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "openapi.json"
    monkeypatch.setattr(cli, "OPENAPI_PATH", spec)
    assert cli.main(["openapi", "--check"]) == 1
    assert cli.main(["openapi"]) == 0
    assert cli.main(["openapi", "--check"]) == 0
    spec.write_text(spec.read_text().replace('"title": "bandsync"', '"title": "old"'))
    assert cli.main(["openapi", "--check"]) == 1
    assert "stale" in capsys.readouterr().err


def test_the_committed_spec_is_current() -> None:
    assert cli.OPENAPI_PATH.read_text() == cli.openapi_document()


@pytest.fixture
def cli_school(committed: Committed) -> str:
    return committed.track(f"cli-{uuid.uuid4().hex[:8]}")


async def _pupils(maker: async_sessionmaker[AsyncSession], school_id: str) -> int:
    async with maker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Pupil).where(Pupil.school_id == school_id)) or 0
        )


def test_import_roster_from_a_file(
    tmp_path: Path,
    cli_school: str,
    committed: Committed,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(make_roster(30))
    bad.write_text(make_roster(30).replace("p3,", "p3,,", 1))
    assert cli.main(["import-roster", "--school", cli_school, str(good)]) == 2  # no such school yet
    assert cli.main(["create-school", "--id", cli_school, "--name", "CLI Primary"]) == 0
    assert cli.main(["create-school", "--id", cli_school, "--name", "CLI Primary", "--if-missing"]) == 0
    assert cli.main(["import-roster", "--school", cli_school, str(bad)]) == 1
    assert "line" in capsys.readouterr().err
    assert asyncio.run(_pupils(committed.sessionmaker, cli_school)) == 0
    assert cli.main(["import-roster", "--school", cli_school, str(good)]) == 0
    assert '"pupils_created": 30' in capsys.readouterr().out
    assert asyncio.run(_pupils(committed.sessionmaker, cli_school)) == 30
