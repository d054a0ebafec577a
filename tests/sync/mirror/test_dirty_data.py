"""Dirty MIS data (issue 14, item 1): one bad record never stops a school.

- every text value is cleaned on the way in (controls, bidirectional overrides, NFC), and a blank
  preferred name falls back to the legal one after cleaning;
- a record that still cannot be used is quarantined: the read succeeds without it, the mirror keeps
  what it had of it (never archived for being unreadable, memberships kept), the run counts it, and the
  data-quality list shows it with the fields to fix; a cleaned value is listed as ``cleaned``;
- a poisoned sandbox school reads, and syncs, to the end.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.pagination import PageParams
from app.models import MisMembership, MisRecordIssue, MisStudent, Pupil, School, SyncRun
from app.sync.mirror.clean import clean
from app.sync.mirror.flow import run_read, write_read
from app.sync.mirror.quality.codes import IssueCode, Record
from app.sync.mirror.quality.repository import QualityRepository
from app.sync.mirror.read import MisRead, student_row
from app.sync.reconcile.flow import run_sync
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from app.wonde.schemas import WondeStudent
from tests.fixtures.database import Committed
from tests.fixtures.schools import mis_event, new_run, onboarded
from tests.fixtures.wonde import no_sleep

# -- cleaning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored", "changed"),
    [
        ("Amy", "Amy", False),
        ("  Amy  ", "Amy", False),  # spaces at the ends are tidied, not worth a warning
        ("Mary  Ann", "Mary Ann", False),
        ("Am\x00y", "Amy", True),  # a NUL byte: PostgreSQL refuses it
        ("\u202eevlis", "evlis", True),  # a right-to-left override: the name would print backwards
        ("Zo\u200be", "Zoe", True),  # a zero-width space
        ("Ja\x07ck\x1b[31m", "Jack[31m", True),  # BEL and ESC
        ("Anne\r\nMarie", "Anne Marie", True),  # a line break becomes the space it stands for
        ("\x85Luc\x9b", "Luc", True),  # C1 controls
        ("Jose\u0301", "Jos\u00e9", False),  # NFC: one name, however it was typed
        ("\u0645\u0631\u064a\u0645", "\u0645\u0631\u064a\u0645", False),  # right-to-left script is kept
        ("\x00 \u202e ", None, True),
        (" ", None, False),
        (None, None, False),
        ("x" * 120, "x" * 100, True),  # cut to the column
    ],
)
def test_clean(raw: str | None, stored: str | None, changed: bool) -> None:
    cleaned = clean(raw, 100)
    assert (cleaned.value, cleaned.changed) == (stored, changed)


def _student(wonde_id: str, **fields: Any) -> WondeStudent:
    data: dict[str, Any] = {"id": wonde_id, "forename": "Amy", "surname": "Jones"} | fields
    data.setdefault(
        "classes",
        {"data": [{"id": "C1", "name": "Maths 7A"}]},
    )
    return WondeStudent.model_validate(data)


def test_a_blank_preferred_name_falls_back_to_the_legal_one_after_cleaning() -> None:
    row, changed = student_row(
        _student("S1", forename=" ", legal_forename="Max", surname="\u200b", legal_surname="Lee")
    )
    assert (row.forename, row.surname) == ("Max", "Lee")
    assert changed == ["surname"]  # the zero-width space was removed; the blank forename only tidied


def test_a_student_with_no_name_left_is_set_aside_with_the_fields_at_fault() -> None:
    read = MisRead()
    read.add_student(_student("S1"))
    read.add_student(_student("S2", forename="\x00", legal_forename=" "))
    read.add_student(_student("S3", forename="Am\x00y"))
    read.finish()
    assert set(read.students) == {"S1", "S3"}
    assert read.quarantined(Record.STUDENT) == {"S2"}
    assert read.issues[(Record.STUDENT, "S2", IssueCode.QUARANTINED)].fields == ("forename",)
    assert read.issues[(Record.STUDENT, "S3", IssueCode.CLEANED)].fields == ("forename",)
    # The set-aside student's classes are not taken from it: the mirror keeps what it had.
    assert ("S2", "C1") not in read.class_members


# -- the mirror keeps what it had of a record set aside ---------------------------------------------


def _read(*students: WondeStudent) -> MisRead:
    read = MisRead()
    for student in students:
        read.add_student(student)
    return read.finish()


async def _issues(session: AsyncSession, school_id: str, code: IssueCode | None = None) -> list[tuple[Any, ...]]:
    issues, _ = await QualityRepository(session, school_id).page(code, PageParams(page=1, per_page=100))
    return [
        (i.code, i.record, i.wonde_id, i.name, i.fields)
        for i in issues
        if i.code in (IssueCode.QUARANTINED, IssueCode.CLEANED)
    ]


async def _live(session: AsyncSession, school_id: str) -> dict[str, tuple[str, str, int]]:
    """Each live mirror student's names and number of live memberships."""
    memberships = (
        select(func.count())
        .where(MisMembership.mis_student_id == MisStudent.id, MisMembership.deleted_at.is_(None))
        .scalar_subquery()
    )
    rows = await session.execute(
        select(MisStudent.wonde_id, MisStudent.forename, MisStudent.surname, memberships).where(
            MisStudent.school_id == school_id, MisStudent.deleted_at.is_(None)
        )
    )
    return {wonde_id: (forename, surname, count) for wonde_id, forename, surname, count in rows}


async def test_a_record_set_aside_keeps_its_mirror_state_through_full_and_delta_reads(
    session: AsyncSession, school: School
) -> None:
    first = await write_read(session, school.id, _read(_student("S1"), _student("S2", forename="Ben")), complete=True)
    assert first["quarantined"] == 0
    before = await _live(session, school.id)
    assert before["S2"] == ("Ben", "Jones", 1)  # in Maths 7A
    # S2's record turns unusable: a complete read sets it aside and leaves it exactly as it was.
    poisoned = _read(_student("S1"), _student("S2", forename="\x07", surname="\u202e", classes={"data": []}))
    counts = await write_read(session, school.id, poisoned, complete=True)
    assert (counts["quarantined"], counts["students"]["deleted"], counts["memberships"]["deleted"]) == (1, 0, 0)
    assert await _live(session, school.id) == before
    assert await _issues(session, school.id) == [
        (IssueCode.QUARANTINED, Record.STUDENT, "S2", "Ben Jones", ("forename", "surname"))
    ]
    # A delta read that returns it unusable again changes nothing either, and keeps it listed.
    await write_read(session, school.id, poisoned, complete=False)
    assert await _live(session, school.id) == before
    [(first_seen, last_seen)] = (
        await session.execute(select(MisRecordIssue.first_seen_at, MisRecordIssue.last_seen_at))
    ).all()
    assert first_seen <= last_seen
    # Corrected in the MIS: the next read takes it, and its entry goes.
    fixed = _read(_student("S1"), _student("S2", forename="Benjamin"))
    await write_read(session, school.id, fixed, complete=False)
    assert (await _live(session, school.id))["S2"] == ("Benjamin", "Jones", before["S2"][2])
    assert await _issues(session, school.id) == []


async def test_a_record_gone_from_the_mis_takes_its_entry_with_it(session: AsyncSession, school: School) -> None:
    await write_read(session, school.id, _read(_student("S1"), _student("S2", forename="Jo\x00")), complete=True)
    assert [i[2] for i in await _issues(session, school.id, IssueCode.CLEANED)] == ["S2"]
    await write_read(session, school.id, _read(_student("S1")), complete=True)
    assert await _issues(session, school.id) == []


# -- over HTTP: records the client cannot read ------------------------------------------------------

BASE = "https://api.wonde.com/v1.0"
WONDE_SCHOOL = "A9999999999"


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "meta": {"pagination": {"next": None, "more": False, "per_page": 200}}}


def _raw(wonde_id: str, forename: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": wonde_id,
        "forename": forename,
        "surname": "Hill",
        "classes": {"data": [{"id": "C1", "name": "Maths"}]},
        **fields,
    }


@pytest.mark.wonde(base_url=BASE, attempts=2, base_delay=0, sleep=no_sleep)
async def test_a_record_wonde_sends_unreadable_is_set_aside_and_the_read_succeeds(
    committed: Committed, wonde: WondeClient, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id = committed.track(f"dirty-{uuid.uuid4().hex[:8]}")
    async with committed.sessionmaker() as session:
        session.add(
            School(
                id=school_id,
                name="Dirty Primary",
                wonde_school_id=WONDE_SCHOOL,
                wonde_domain="api.wonde.com",
                wonde_token_encrypted=box.encrypt("school-token"),
            )
        )
        await session.commit()
    clean_page = [_raw("S1", "Ann"), _raw("S2", "Bea")]
    # S2's timestamp and a new student's year cannot be read; a new student has an unreadable id.
    dirty_page = [
        _raw("S1", "Ann"),
        _raw("S2", "Bea", updated_at="not a time"),
        _raw("S3", "Cat", education_details={"data": {"leaving_date": "the summer"}}),
    ]
    statuses = []
    for page in (clean_page, dirty_page):
        with respx.mock(assert_all_mocked=True) as mock:
            mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/students").mock(return_value=httpx.Response(200, json=_page(page)))
            mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/classes").mock(return_value=httpx.Response(200, json=_page([])))
            mock.get(f"{BASE}/schools/{WONDE_SCHOOL}/groups").mock(return_value=httpx.Response(200, json=_page([])))
            statuses.append(
                await run_read(
                    committed.sessionmaker, wonde, box, await new_run(committed.sessionmaker, school_id, "full_read")
                )
            )
    assert statuses == ["succeeded", "succeeded"]
    async with committed.sessionmaker() as session:
        assert await _live(session, school_id) == {"S1": ("Ann", "Hill", 1), "S2": ("Bea", "Hill", 1)}
        assert await _issues(session, school_id, IssueCode.QUARANTINED) == [
            (IssueCode.QUARANTINED, Record.STUDENT, "S2", "Bea Hill", ("updated_at",)),
            (IssueCode.QUARANTINED, Record.STUDENT, "S3", None, ("education_details.data.leaving_date",)),
        ]
        last = await session.scalar(
            select(SyncRun).where(SyncRun.school_id == school_id).order_by(SyncRun.created_at.desc()).limit(1)
        )
        assert last is not None
        assert last.counts["quarantined"] == 2


# -- a poisoned sandbox school -----------------------------------------------------------------------

POISONED = {
    "nul": {"forename": "Ell\x00a"},
    "blank_preferred": {"forename": " ", "legal_forename": "Max"},
    "override": {"forename": "\u202eevlis"},
    "escapes": {"forename": "Ja\x07ck\x1b", "surname": "Ro\r\nss"},
    "nothing_left": {"forename": "\x00", "legal_forename": "\u202e", "surname": "\x07", "legal_surname": " "},
}


@pytest.mark.slow
async def test_a_poisoned_sandbox_school_reads_and_syncs_to_the_end(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=120, name="Poisoned Primary")
    students = sorted(sandbox.state.school(wonde_school).students)[: len(POISONED)]
    victims = dict(zip(POISONED, students, strict=True))
    async with committed.sessionmaker() as session:
        before = await _live(session, school_id)
        pupils_before = await session.scalar(select(func.count()).where(Pupil.school_id == school_id))
    for poison, student_id in victims.items():
        mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": student_id, **POISONED[poison]})
    run_id = await new_run(committed.sessionmaker, school_id, "reconcile")
    assert await run_sync(committed.sessionmaker, None, wonde, box, run_id) == "succeeded"
    async with committed.sessionmaker() as session:
        after = await _live(session, school_id)
        names = {poison: after[student][:2] for poison, student in victims.items()}
        pupils = dict(
            (
                await session.execute(
                    select(MisStudent.wonde_id, Pupil.first_name)
                    .join(MisStudent, MisStudent.id == Pupil.mis_student_id)
                    .where(Pupil.school_id == school_id, MisStudent.wonde_id.in_(victims.values()))
                )
            ).all()
        )
        issues = await _issues(session, school_id)
        pupils_after = await session.scalar(select(func.count()).where(Pupil.school_id == school_id))
    assert names["nul"][0] == "Ella"
    assert names["blank_preferred"][0] == "Max"
    assert names["override"][0] == "evlis"
    assert names["escapes"] == ("Jack", "Ro ss")
    assert after[victims["nothing_left"]] == before[victims["nothing_left"]]  # kept as it was, not archived
    assert {poison: pupils[student] for poison, student in victims.items()} == {
        "nul": "Ella",
        "blank_preferred": "Max",
        "override": "evlis",
        "escapes": "Jack",
        "nothing_left": before[victims["nothing_left"]][0],
    }
    assert pupils_after == pupils_before
    assert {(code, wonde_id) for code, _, wonde_id, _, _ in issues} == {
        (IssueCode.QUARANTINED, victims["nothing_left"]),
        *((IssueCode.CLEANED, victims[p]) for p in ("nul", "override", "escapes")),
    }
