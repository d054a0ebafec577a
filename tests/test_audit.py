"""The audit writer (``app/audit.py``): acts of a person, journalled outside any run with their actor,
never holding a password; the vocabulary is stored data; and the checks the proofs share do not take
two audit entries for a run that applied twice."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit import AuditAction, AuditEntry, record_audit
from app.models import ChangeRow, Pupil, School
from tests.fixtures.app import TokenFactory
from tests.fixtures.checks import duplicates
from tests.fixtures.database import savepoint_sessionmaker


def test_the_stored_audit_vocabulary_is_unchanged() -> None:
    assert {a.value for a in AuditAction} == {
        "reset_password", "rename_pupil_by_hand", "change_pupil_by_hand", "create_pupil_by_hand", "import_roster",
        "change_settings", "download_login_details", "confirm_login_details", "reissue_band_passwords",
    }  # fmt: skip


async def _pupil(session: AsyncSession, school: School) -> Pupil:
    pupil = Pupil(school_id=school.id, first_name="Amy", last_name="Jones", username=f"amy.{uuid.uuid4().hex[:6]}")
    session.add(pupil)
    await session.flush()
    return pupil


async def test_an_entry_is_about_a_pupil_or_the_school_with_its_actor_and_no_run(
    session: AsyncSession, school: School
) -> None:
    pupil = await _pupil(session, school)
    await record_audit(
        session,
        school.id,
        "ms.khan@oak.example",
        [
            AuditEntry.pupil(AuditAction.RENAME_PUPIL_BY_HAND, pupil.id, before={"first_name": "Amy"}, after=None),
            AuditEntry.school(AuditAction.CHANGE_SETTINGS, school.id, before={"hold_min_pupils": 5}, after={}),
        ],
    )
    rows = list(await session.scalars(select(ChangeRow).where(ChangeRow.school_id == school.id).order_by(ChangeRow.id)))
    assert [
        (r.run_id, r.actor, r.action, r.entity_type, r.entity_id, r.pupil_id, r.band_id, r.before, r.after, r.status)
        for r in rows
    ] == [
        (None, "ms.khan@oak.example", "rename_pupil_by_hand", "pupil", str(pupil.id), pupil.id, None,
         {"first_name": "Amy"}, None, "applied"),
        (None, "ms.khan@oak.example", "change_settings", "school", school.id, None, None,
         {"hold_min_pupils": 5}, {}, "applied"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "values",
    [
        {"password": "tiger482"},
        {"password_hash": "$argon2id$..."},
        {"nested": {"password_encrypted": "gAAAA"}},
        {"items": [{"Password": "x"}]},
    ],
)
async def test_an_entry_never_holds_a_password(
    session: AsyncSession, school: School, values: dict[str, object]
) -> None:
    pupil = await _pupil(session, school)
    for before, after in ((values, None), (None, values)):
        with pytest.raises(ValueError, match="password"):
            await record_audit(
                session, school.id, "admin", [AuditEntry.pupil(AuditAction.RESET_PASSWORD, pupil.id, before, after)]
            )


async def test_an_entry_names_its_actor(session: AsyncSession, school: School) -> None:
    with pytest.raises(ValueError, match="actor"):
        await record_audit(session, school.id, "", [AuditEntry.school(AuditAction.CHANGE_SETTINGS, school.id)])
    # And the database itself refuses a journal row that has neither a run nor an actor.
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.execute(
                insert(ChangeRow).values(
                    school_id=school.id, entity_type="school", entity_id=school.id, action="change_settings"
                )
            )


async def test_two_audit_entries_alike_are_no_duplicate_for_the_proofs(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, connection: AsyncConnection
) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    pupil = (await client.post(base, json={"first_name": "Amy", "last_name": "Jones"}, headers=auth(school.id))).json()
    for _ in range(2):
        assert (await client.post(f"{base}/{pupil['id']}/password", headers=auth(school.id))).status_code == 200
    assert await duplicates(savepoint_sessionmaker(connection), school.id, app_only_accounts=True) == []
