from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import JWTSettings, Settings, WondeSettings
from app.kit.time import pinned, utc_now
from app.models import ChangeRow, School, SyncRun
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import statements_seen

SCRAPE_TOKEN = "scrape-token-" + "0123456789abcdef" * 3
MOMENT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


async def test_metrics_count_runs_changes_and_the_queue(
    client: httpx.AsyncClient, school: School, session: AsyncSession
) -> None:
    now = utc_now()
    run = SyncRun(
        school_id=school.id,
        kind="reconcile",
        trigger="manual",
        status="succeeded",
        started_at=now,
        finished_at=now,
        requests_made=7,
    )
    session.add(run)
    await session.flush()
    session.add_all(
        [
            ChangeRow(
                school_id=school.id,
                run_id=run.id,
                entity_type="pupil",
                entity_id="p",
                action="rename_pupil",
                status="applied",
            ),
            ChangeRow(
                school_id=school.id, run_id=run.id, entity_type="pupil", entity_id="q", action="held", status="held"
            ),
        ]
    )
    await session.commit()
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'bandsync_runs_total{kind="reconcile",status="succeeded"}' in text
    assert 'bandsync_wonde_requests_total{kind="reconcile"} 7.0' in text
    assert 'bandsync_changes_total{action="rename_pupil",status="applied"}' in text
    assert "bandsync_held_changes 1.0" in text
    assert "bandsync_queue_depth" in text
    assert school.name not in text


async def test_run_durations_are_a_histogram_by_kind(
    client: httpx.AsyncClient, school: School, session: AsyncSession
) -> None:
    now = utc_now()
    for seconds in (0.5, 10, 700):
        session.add(
            SyncRun(
                school_id=school.id,
                kind="merge",
                trigger="manual",
                status="succeeded",
                started_at=now - timedelta(seconds=seconds),
                finished_at=now,
            )
        )
    session.add(SyncRun(school_id=school.id, kind="merge", trigger="manual", status="running", started_at=now))
    await session.commit()
    text = (await client.get("/metrics")).text
    assert "# TYPE bandsync_run_duration_seconds histogram" in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="1.0"} 1.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="5.0"} 1.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="15.0"} 2.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="600.0"} 2.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="1800.0"} 3.0' in text
    assert 'bandsync_run_duration_seconds_bucket{kind="merge",le="+Inf"} 3.0' in text
    assert 'bandsync_run_duration_seconds_count{kind="merge"} 3.0' in text  # the running one is not counted
    assert 'bandsync_run_duration_seconds_sum{kind="merge"} 710.5' in text


async def test_wonde_responses_are_counted_by_status_across_reads(
    client: httpx.AsyncClient, school: School, session: AsyncSession
) -> None:
    session.add_all(
        [
            SyncRun(
                school_id=school.id,
                kind="full_read",
                trigger="manual",
                status="succeeded",
                counts={"students": {"inserted": 3}, "wonde_responses": {"200": 12, "429": 2}},
            ),
            SyncRun(
                school_id=school.id,
                kind="delta_read",
                trigger="schedule",
                status="failed",
                counts={"wonde_responses": {"200": 1, "500": 4, "timeout": 1}},
            ),
            SyncRun(school_id=school.id, kind="merge", trigger="manual", status="succeeded", counts={"pupils": 2}),
        ]
    )
    await session.commit()
    text = (await client.get("/metrics")).text
    assert "# TYPE bandsync_wonde_responses_total counter" in text
    assert 'bandsync_wonde_responses_total{status="200"} 13.0' in text
    assert 'bandsync_wonde_responses_total{status="429"} 2.0' in text
    assert 'bandsync_wonde_responses_total{status="500"} 4.0' in text
    assert 'bandsync_wonde_responses_total{status="timeout"} 1.0' in text
    assert 'status="401"' not in text


def _configure(app: FastAPI, settings: Settings, **update: Any) -> None:
    """The running app with other settings (read per request by the /metrics guard)."""
    app.state.settings = settings.model_copy(update=update)


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_with_a_scrape_token_only_a_scrape_that_sends_it_is_answered(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, auth: TokenFactory, environment: str
) -> None:
    _configure(app, settings, environment=environment, metrics_token=SecretStr(SCRAPE_TOKEN))
    refused = await client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"] == "NotAuthenticated"
    assert "bandsync_" not in refused.text
    for header in (
        f"Bearer {SCRAPE_TOKEN[:-1]}x".encode(),  # same length, one character off
        f"Bearer {SCRAPE_TOKEN}x".encode(),
        f"Bearer {SCRAPE_TOKEN[:8]}".encode(),
        f"Basic {SCRAPE_TOKEN}".encode(),
        b"Bearer ",
        "Bearer é".encode(),  # not ASCII: still a plain 401
    ):
        assert (await client.get("/metrics", headers={b"Authorization": header})).status_code == 401, header
    # A school admin's token is not a scrape token: the counts span every school.
    assert (await client.get("/metrics", headers=auth("s1"))).status_code == 401
    answered = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/plain")
    assert "bandsync_queue_depth" in answered.text


@pytest.mark.parametrize("environment", ["staging", "production"])
async def test_without_a_scrape_token_metrics_is_not_served_outside_development(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, environment: str
) -> None:
    _configure(app, settings, environment=environment, metrics_token=None)
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 404
        # Exactly what a path that is not served answers.
        assert response.json() == (await client.get("/no-such-path")).json()


async def test_without_a_scrape_token_development_answers_anyone(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    """So ``make run`` can be scraped with a bare curl (README, Metrics)."""
    _configure(app, settings, environment="development", metrics_token=None)
    assert (await client.get("/metrics")).status_code == 200


def test_a_short_scrape_token_is_refused_outside_development_and_a_blank_one_is_unset() -> None:
    production: dict[str, Any] = {
        "environment": "production",
        "encryption_key": SecretStr("q6Y0b3Jm8xg1Wc0o4dUJ2eQ7Hn9kzT5aLs-VrPi3fNE="),
        "jwt": JWTSettings(
            secret=SecretStr("J8c2-Lm4Qz9Rv1Tx6Wb3Yn5Pk7Hd0Fs2Ga8Ue4Io"), issuer="https://login.example"
        ),
        "wonde": WondeSettings(webhook_secret=SecretStr("W5n7-Bq2Xe9Kr4Mt1Vy6Zc3Ah8Dj0Gl5Fp7Su2Ow")),
        "login_url": "app.example.org/login",
    }
    assert Settings(**production, metrics_token=SecretStr(SCRAPE_TOKEN)).metrics_token is not None
    with pytest.raises(ValidationError, match="BANDSYNC_METRICS_TOKEN must be at least 32 characters"):
        Settings(**production, metrics_token=SecretStr("short"))
    assert Settings(environment="development", metrics_token=SecretStr("dev")).metrics_token is not None
    assert Settings(environment="development", metrics_token=SecretStr("  ")).metrics_token is None
    assert Settings(**production, metrics_token="").metrics_token is None


def counting_queries(connection: AsyncConnection) -> AbstractContextManager[list[str]]:
    """The SELECTs that count the runs and the journal, as they reach the database."""
    return statements_seen(
        connection,
        lambda text: text.startswith("SELECT") and ("FROM sync_runs" in text or "FROM changes" in text),
    )


async def _add_succeeded_run(session: AsyncSession, school: School) -> None:
    now = utc_now()
    session.add(
        SyncRun(
            school_id=school.id, kind="merge", trigger="manual", status="succeeded", started_at=now, finished_at=now
        )
    )
    await session.commit()


async def test_two_scrapes_within_15_seconds_count_the_tables_once(
    client: httpx.AsyncClient, connection: AsyncConnection, school: School, session: AsyncSession
) -> None:
    merges = 'bandsync_runs_total{kind="merge",status="succeeded"}'
    with counting_queries(connection) as queries, pinned(MOMENT) as now:
        await _add_succeeded_run(session, school)
        first = (await client.get("/metrics")).text
        assert f"{merges} 1.0" in first
        assert len(queries) == 4  # runs by status, durations, Wonde responses, changes
        await _add_succeeded_run(session, school)
        with pinned(now + timedelta(seconds=14.9)):
            second = (await client.get("/metrics")).text
        assert len(queries) == 4  # no query: the first scrape's counts are served again
        assert f"{merges} 1.0" in second


async def test_the_counts_are_measured_again_once_15_seconds_old(
    client: httpx.AsyncClient, connection: AsyncConnection, school: School, session: AsyncSession
) -> None:
    merges = 'bandsync_runs_total{kind="merge",status="succeeded"}'
    with counting_queries(connection) as queries, pinned(MOMENT) as now:
        await _add_succeeded_run(session, school)
        assert f"{merges} 1.0" in (await client.get("/metrics")).text
        await _add_succeeded_run(session, school)
        with pinned(now + timedelta(seconds=15)):
            assert f"{merges} 2.0" in (await client.get("/metrics")).text
            assert len(queries) == 8
            await _add_succeeded_run(session, school)
            assert f"{merges} 2.0" in (await client.get("/metrics")).text
        # A clock that went backwards does not keep serving the measurement from "the future".
        assert f"{merges} 3.0" in (await client.get("/metrics")).text
        assert len(queries) == 12


async def test_scrapes_at_once_wait_for_one_measurement(
    client: httpx.AsyncClient, connection: AsyncConnection, school: School, session: AsyncSession
) -> None:
    with counting_queries(connection) as queries, pinned(MOMENT):
        await _add_succeeded_run(session, school)
        answers = await asyncio.gather(*(client.get("/metrics") for _ in range(20)))
    assert {answer.status_code for answer in answers} == {200}
    assert all('bandsync_runs_total{kind="merge",status="succeeded"} 1.0' in answer.text for answer in answers)
    assert len(queries) == 4
