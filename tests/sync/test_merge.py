"""Merge against the real database: what the preview warns about, all-or-nothing application, a
killed worker, and what happens to passwords."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.models import BandMembership, ChangeRow, Credential, Pupil, SyncRun
from app.pupils import credentials
from app.sync.onboarding.flow import run_merge
from app.sync.onboarding.service import preview
from tests.conftest import Committed, TokenFactory, _savepoint_sessionmaker
from tests.sync.merge_helpers import decide, small_school


async def test_the_preview_warns_when_a_band_would_lose_pupils_to_other_classes(session: AsyncSession) -> None:
    school = await small_school(session)
    # The band holds form 4B, but the admin matches it to the maths set: two of its pupils are not in it.
    session.add(decide(school, school.maths, "match", school.band))
    await session.flush()
    shown = await preview(session, school.school_id)
    [warning] = shown["warnings"]
    assert warning["band_id"] == str(school.band.id)
    assert warning["pupils_leaving"] == 2
    assert "other MIS classes" in warning["message"]
    assert shown["counts"]["memberships_removed"] == 2


async def test_matching_a_band_to_its_own_form_warns_of_nothing(session: AsyncSession) -> None:
    school = await small_school(session)
    session.add(decide(school, school.form, "match", school.band))
    await session.flush()
    shown = await preview(session, school.school_id)
    assert shown["warnings"] == []
    assert shown["counts"]["pupils_linked"] == 5


async def _committed_school(committed: Committed) -> tuple[str, uuid.UUID]:
    async with committed.sessionmaker() as session:
        school = await small_school(session, committed.track(f"merge-{uuid.uuid4().hex[:8]}"))
        session.add_all(
            [decide(school, school.form, "match", school.band), decide(school, school.other_form, "import")]
        )
        run = SyncRun(school_id=school.school_id, kind="merge", trigger="manual", status="queued", actor="test")
        session.add(run)
        await session.commit()
        return school.school_id, run.id


async def _footprint(committed: Committed, school_id: str) -> tuple[int, int, int, int]:
    """Pupils, linked pupils, memberships and journal entries of the school."""
    async with committed.sessionmaker() as session:

        async def count(model: Any, *conditions: Any) -> int:
            return int(await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)

        return (
            await count(Pupil, Pupil.school_id == school_id),
            await count(Pupil, Pupil.school_id == school_id, Pupil.mis_student_id.is_not(None)),
            await count(BandMembership, BandMembership.school_id == school_id),
            await count(ChangeRow, ChangeRow.school_id == school_id),
        )


async def test_a_failure_half_way_leaves_everything_as_it_was(
    committed: Committed, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    school_id, run_id = await _committed_school(committed)
    before = await _footprint(committed, school_id)
    box = SecretBox(settings.encryption_key)

    async def fail_at_the_journal(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("app.sync.apply.record", fail_at_the_journal)
    with pytest.raises(RuntimeError):
        await run_merge(committed.sessionmaker, box, run_id)
    assert await _footprint(committed, school_id) == before
    async with committed.sessionmaker() as session:
        failed = await session.get(SyncRun, run_id)
        assert failed is not None
        assert (failed.status, failed.error) == ("failed", "RuntimeError: the database went away")
        retry = SyncRun(school_id=school_id, kind="merge", trigger="manual", status="queued")
        session.add(retry)
        await session.commit()
    monkeypatch.undo()
    assert await run_merge(committed.sessionmaker, box, retry.id) == "succeeded"
    pupils, linked, _, journal = await _footprint(committed, school_id)
    assert (pupils, linked) == (10, 10)
    assert journal > 0


KILLED_WORKER = """
import asyncio, sys, uuid
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.kit.crypto import SecretBox
from app.sync import apply as apply_module
from app.sync.onboarding.flow import run_merge

real_record = apply_module.record

async def record_then_hang(*args, **kwargs):
    await real_record(*args, **kwargs)
    print("written", flush=True)
    await asyncio.sleep(60)

apply_module.record = record_then_hang

async def main():
    settings = Settings(database_url=sys.argv[1])
    engine = create_engine(settings.database_url)
    await run_merge(create_sessionmaker(engine), SecretBox(settings.encryption_key), uuid.UUID(sys.argv[2]))

asyncio.run(main())
"""


async def test_a_worker_killed_mid_merge_changes_nothing_and_the_rerun_completes(
    committed: Committed, settings: Settings, database_url: str
) -> None:
    school_id, run_id = await _committed_school(committed)
    before = await _footprint(committed, school_id)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_WORKER,
        database_url,
        str(run_id),
        stdout=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), timeout=30)
    assert line.strip() == b"written"  # every change is written, not yet committed
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    assert await _footprint(committed, school_id) == before
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
        assert run is not None
        assert run.status == "queued"  # so the queue's retry picks it up
    assert await run_merge(committed.sessionmaker, SecretBox(settings.encryption_key), run_id) == "succeeded"
    assert (await _footprint(committed, school_id))[:2] == (10, 10)


async def test_passwords_are_hashed_and_their_plaintext_goes_when_due(committed: Committed, settings: Settings) -> None:
    school_id, run_id = await _committed_school(committed)
    box = SecretBox(settings.encryption_key)
    assert await run_merge(committed.sessionmaker, box, run_id) == "succeeded"
    async with committed.sessionmaker() as session:
        created = list(await session.scalars(select(Pupil).where(Pupil.school_id == school_id, Pupil.source == "mis")))
        stored = list(await session.scalars(select(Credential).where(Credential.school_id == school_id)))
        assert len(created) == len(stored) == 5
        assert all(p.password_hash and p.password_hash.startswith("$argon2id$") for p in created)
        passwords = {c.pupil_id: box.decrypt(c.password_encrypted) for c in stored if c.password_encrypted}
        for pupil in created:
            assert credentials.verify_password(pupil.password_hash or "", passwords[pupil.id])
            assert passwords[pupil.id].encode() not in (pupil.password_hash or "").encode()
        # 29 days on, still there; 31 days on, gone.
        assert await credentials.expire(session, utc_now() + timedelta(days=29)) == 0
        assert await credentials.expire(session, utc_now() + timedelta(days=31)) == 5
        await session.commit()
        remaining = await session.scalar(
            select(func.count())
            .select_from(Credential)
            .where(Credential.school_id == school_id, Credential.password_encrypted.is_not(None))
        )
        assert remaining == 0


async def test_login_details_as_printable_cards_then_gone(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    session: AsyncSession,
    connection: AsyncConnection,
    settings: Settings,
) -> None:
    school = await small_school(session)
    session.add_all([decide(school, school.form, "match", school.band), decide(school, school.other_form, "import")])
    run = SyncRun(school_id=school.school_id, kind="merge", trigger="manual", status="queued")
    session.add(run)
    await session.commit()
    assert (
        await run_merge(_savepoint_sessionmaker(connection), SecretBox(settings.encryption_key), run.id) == "succeeded"
    )
    url = f"/v1/schools/{school.school_id}/runs/{run.id}/credentials"
    pdf = await client.get(url, params={"format": "pdf"}, headers=auth(school.school_id))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert (await client.get(url, params={"format": "json"}, headers=auth(school.school_id))).json() == []
