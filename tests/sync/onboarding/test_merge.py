"""Merge against the real database: what the preview warns about, all-or-nothing application (a
worker SIGKILLed mid-merge is in tests/proof/test_worker_kill.py), what the journal records, and
what happens to passwords."""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.models import ChangeRow, Credential, Pupil, SyncRun
from app.pupils import credentials
from app.pupils.login_cards import INSTRUCTION
from app.sync.core.changes import AddToBand, CreateBand, CreatePupil, LinkBand, LinkPupil, RemoveFromBand, RestorePupil
from app.sync.onboarding.flow import run_merge
from app.sync.onboarding.service import compute_plan, preview
from app.sync.runs.failures import Failure, FailureCode, JobFailed
from tests.fixtures.app import TokenFactory
from tests.fixtures.checks import footprint
from tests.fixtures.database import Committed, database_refuses, savepoint_sessionmaker
from tests.fixtures.pdf import page_texts
from tests.fixtures.schools import NAMES, decide, small_school, small_school_ready_to_merge


async def test_the_preview_warns_when_a_band_would_lose_pupils_to_other_classes(session: AsyncSession) -> None:
    school = await small_school(session)
    # The band holds form 4B, but the admin matches it to the maths set: two of its pupils are not in it.
    session.add(decide(school, school.maths, "match", school.band))
    await session.flush()
    shown = await preview(session, school.school_id)
    [warning] = shown.warnings
    assert warning.band_id == str(school.band.id)
    assert warning.pupils_leaving == 2
    assert "other MIS classes" in warning.message
    assert shown.counts["memberships_removed"] == 2


async def test_matching_a_band_to_its_own_form_warns_of_nothing(session: AsyncSession) -> None:
    school = await small_school(session)
    session.add(decide(school, school.form, "match", school.band))
    await session.flush()
    shown = await preview(session, school.school_id)
    assert shown.warnings == []
    assert shown.counts["pupils_linked"] == 5


# The journal action each kind of planned change is recorded under (stored data: these never change).
JOURNAL_ACTIONS: dict[type, str] = {
    LinkBand: "link_band",
    CreateBand: "create_band",
    LinkPupil: "link_pupil",
    CreatePupil: "create_pupil",
    AddToBand: "add_to_band",
    RemoveFromBand: "remove_from_band",
    RestorePupil: "restore_pupil",
}


async def test_a_failure_half_way_leaves_everything_as_it_was(
    committed: Committed, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    school_id, run_id = await small_school_ready_to_merge(committed)
    before = await footprint(committed.sessionmaker, school_id)
    box = SecretBox(settings.encryption_key)

    async def fail_at_the_journal(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("app.sync.apply.record", fail_at_the_journal)
    with pytest.raises(JobFailed) as raised:
        await run_merge(committed.sessionmaker, box, run_id)
    # The job's exception says the code and the run, and carries nothing of the original along.
    assert str(raised.value) == f"run {run_id} failed: internal_error"
    assert raised.value.__suppress_context__
    assert await footprint(committed.sessionmaker, school_id) == before
    async with committed.sessionmaker() as session:
        failed = await session.get(SyncRun, run_id)
        assert failed is not None
        assert (failed.status, failed.failure_code) == ("failed", "internal_error")
        assert failed.error == Failure(FailureCode.INTERNAL_ERROR, "RuntimeError").text
        retry = SyncRun(school_id=school_id, kind="merge", trigger="manual", status="queued")
        session.add(retry)
        await session.commit()
    monkeypatch.undo()
    async with committed.sessionmaker() as session:
        _, _, plan = await compute_plan(session, school_id)
    assert await run_merge(committed.sessionmaker, box, retry.id) == "succeeded"
    pupils, linked, _, _ = await footprint(committed.sessionmaker, school_id)
    assert (pupils, linked) == (10, 10)
    # The journal is the plan, one applied entry per change, all of the retry: 4B's band follows its
    # class and its five pupils are linked; 4C becomes a band with five new accounts in it.
    async with committed.sessionmaker() as session:
        journal = list(await session.scalars(select(ChangeRow).where(ChangeRow.school_id == school_id)))
    assert {(c.run_id, c.status) for c in journal} == {(retry.id, "applied")}
    actions = Counter(c.action for c in journal)
    assert actions == {"link_band": 1, "link_pupil": 5, "create_band": 1, "create_pupil": 5, "add_to_band": 5}
    assert actions == Counter(JOURNAL_ACTIONS[type(change)] for change in plan.changes)
    by_action: dict[str, list[ChangeRow]] = {}
    for entry in journal:
        by_action.setdefault(entry.action, []).append(entry)
    assert {c.after["container"] for c in by_action["link_band"] + by_action["create_band"] if c.after} == {
        "C-4B",
        "C-4C",
    }
    assert sorted(c.after["student"] for c in by_action["link_pupil"] + by_action["create_pupil"] if c.after) == [
        f"S{i}" for i in range(10)
    ]


async def test_a_merge_the_database_refuses_records_a_code_and_no_name(
    committed: Committed, settings: Settings
) -> None:
    school_id, run_id = await small_school_ready_to_merge(committed)
    before = await footprint(committed.sessionmaker, school_id)
    # PostgreSQL refuses one of the new accounts, quoting the whole row in its error.
    async with database_refuses(committed.sessionmaker, "pupils", "first_name", "Zain"):
        with pytest.raises(JobFailed) as raised:
            await run_merge(committed.sessionmaker, SecretBox(settings.encryption_key), run_id)
    assert await footprint(committed.sessionmaker, school_id) == before
    async with committed.sessionmaker() as session:
        failed = await session.get(SyncRun, run_id)
    assert failed is not None
    assert (failed.status, failed.failure_code) == ("failed", "database_error")
    assert failed.error == Failure(FailureCode.DATABASE_ERROR, "IntegrityError, SQLSTATE 23514").text
    # What arq would log and keep in Redis: the code and the run's id, no child's name.
    kept = str(raised.value) + repr(raised.value) + pickle.dumps(raised.value).decode("latin-1")
    assert [name for pair in NAMES for name in pair if name in kept] == []


async def test_passwords_are_hashed_and_their_plaintext_goes_when_due(committed: Committed, settings: Settings) -> None:
    school_id, run_id = await small_school_ready_to_merge(committed)
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


async def test_login_details_as_printable_cards(
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
    box = SecretBox(settings.encryption_key)
    assert await run_merge(savepoint_sessionmaker(connection), box, run.id) == "succeeded"
    # What each new account's card must show: its name, class, username, (decrypted here) password, and
    # where and how to log in.
    waiting = (
        await session.execute(
            select(Pupil.first_name, Pupil.last_name, Pupil.username, Credential.password_encrypted)
            .join(Credential, Credential.pupil_id == Pupil.id)
            .where(Credential.school_id == school.school_id)
        )
    ).all()
    expected = {
        (
            f"{first} {last}",
            "4C",
            "Username",
            username,
            "Password",
            box.decrypt(secret),
            "Log in at",
            settings.login_url,
        )
        for first, last, username, secret in waiting
        if secret is not None
    }
    assert {card[0] for card in expected} == {f"{first} {last}" for first, last in NAMES[5:]}
    url = f"/v1/schools/{school.school_id}/runs/{run.id}/credentials"
    pdf = await client.get(url, params={"format": "pdf"}, headers=auth(school.school_id))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    # One sheet: the five new accounts of 4C (the band the import made), a card each.
    [sheet] = page_texts(pdf.content)
    assert sheet[0] == "Small Primary - 4C"
    cards = [tuple(sheet[i : i + 8]) for i in range(1, len(sheet), 9)]
    assert len(cards) == len(set(cards)) == 5
    assert set(cards) == expected
    assert {sheet[i] for i in range(9, len(sheet), 9)} == {INSTRUCTION}
    # Downloading them cleared nothing: the same five are there for the next download.
    again = (await client.get(url, params={"format": "json"}, headers=auth(school.school_id))).json()
    assert {(d["username"], d["password"]) for d in again} == {(card[3], card[5]) for card in cards}
