"""The ``bandsync`` command: tokens (within the maximum lifetime) and their revocation, the OpenAPI
drift check and roster import from a file."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import cli
from app.auth import decode_token
from app.config import Settings
from app.kit.time import utc_now
from app.models import Pupil, School
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
    assert cli.main(["create-school", "--id", cli_school, "--name", "CLI Primary", "--urn", "100300"]) == 0
    assert (
        cli.main(["create-school", "--id", cli_school, "--name", "CLI Primary", "--urn", "100300", "--if-missing"]) == 0
    )
    assert cli.main(["import-roster", "--school", cli_school, str(bad)]) == 1
    assert "line" in capsys.readouterr().err
    assert asyncio.run(_pupils(committed.sessionmaker, cli_school)) == 0
    assert cli.main(["import-roster", "--school", cli_school, str(good)]) == 0
    assert '"pupils_created": 30' in capsys.readouterr().out
    assert asyncio.run(_pupils(committed.sessionmaker, cli_school)) == 30


def test_a_platform_token_names_no_school(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--platform"]) == 0
    platform = decode_token(capsys.readouterr().out.strip(), settings)
    assert (platform.role, platform.school_ids) == ("platform", frozenset())
    assert cli.main(["token", "--platform", "--school", "s1"]) == 2
    assert cli.main(["token"]) == 2
    assert "--platform" in capsys.readouterr().err


def test_create_school_checks_the_urn(cli_school: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["create-school", "--id", cli_school, "--name", "CLI Primary", "--urn", "12"]) == 2
    assert "--urn" in capsys.readouterr().err


def test_token_refuses_a_lifetime_beyond_the_maximum(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--school", "s1", "--hours", "13"]) == 2
    assert "at most 12" in capsys.readouterr().err
    assert cli.main(["token", "--school", "s1", "--hours", "1"]) == 0
    assert decode_token(capsys.readouterr().out.strip(), settings).school_ids == {"s1"}


async def _cutoff(maker: async_sessionmaker[AsyncSession], school_id: str) -> datetime | None:
    async with maker() as session:
        school = await session.get(School, school_id)
        assert school is not None
        return school.tokens_valid_after


def test_revoke_tokens_sets_the_schools_cutoff_to_now(
    cli_school: str, committed: Committed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["revoke-tokens", cli_school]) == 2  # no such school yet
    assert "no school" in capsys.readouterr().err
    assert cli.main(["create-school", "--id", cli_school, "--name", "CLI Primary", "--urn", "100300"]) == 0
    assert asyncio.run(_cutoff(committed.sessionmaker, cli_school)) is None
    before = utc_now()
    assert cli.main(["revoke-tokens", cli_school]) == 0
    cutoff = asyncio.run(_cutoff(committed.sessionmaker, cli_school))
    assert cutoff is not None
    assert before <= cutoff <= utc_now()
    assert "issued before" in capsys.readouterr().out
    # Again later: the cutoff moves on.
    assert cli.main(["revoke-tokens", cli_school]) == 0
    later = asyncio.run(_cutoff(committed.sessionmaker, cli_school))
    assert later is not None
    assert later > cutoff
