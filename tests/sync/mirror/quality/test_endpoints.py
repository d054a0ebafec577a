"""The data-quality list over HTTP, against a mirror built by hand: one example of each code the mirror
answers, clean records that must not be listed, deleted rows and another school's rows ignored."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.time import utc_now
from app.models import MisClass, MisGroup, MisMembership, MisRecordIssue, MisStudent, School
from app.sync.mirror.quality.codes import FROM_THE_MIRROR, IssueCode
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import statements_seen


class Mirror:
    """Adds one school's mirror rows: students are clean (a UPN, a year) unless told otherwise."""

    def __init__(self, session: AsyncSession, school: School) -> None:
        self.session = session
        self.school = school
        self.memberships: list[MisMembership] = []

    def student(
        self, wonde_id: str, name: str, *, upn: str | None = "UPN", year: int | None = 4, deleted: bool = False
    ) -> MisStudent:
        forename, surname = name.split(" ")
        row = MisStudent(
            id=uuid.uuid4(),
            school_id=self.school.id,
            wonde_id=wonde_id,
            forename=forename,
            surname=surname,
            upn=f"{upn}-{wonde_id}" if upn else None,
            year_group=year,
            deleted_at=utc_now() if deleted else None,
        )
        self.session.add(row)
        return row

    def mis_class(self, wonde_id: str, name: str, *, deleted: bool = False) -> MisClass:
        row = MisClass(
            id=uuid.uuid4(),
            school_id=self.school.id,
            wonde_id=wonde_id,
            name=name,
            deleted_at=utc_now() if deleted else None,
        )
        self.session.add(row)
        return row

    def group(self, wonde_id: str, name: str, *, deleted: bool = False) -> MisGroup:
        row = MisGroup(
            id=uuid.uuid4(),
            school_id=self.school.id,
            wonde_id=wonde_id,
            name=name,
            type="REGISTRATION",
            deleted_at=utc_now() if deleted else None,
        )
        self.session.add(row)
        return row

    def member(self, student: MisStudent, container: MisClass | MisGroup, *, deleted: bool = False) -> None:
        in_class = isinstance(container, MisClass)
        self.memberships.append(
            MisMembership(
                school_id=self.school.id,
                mis_student_id=student.id,
                mis_class_id=container.id if in_class else None,
                mis_group_id=None if in_class else container.id,
                deleted_at=utc_now() if deleted else None,
            )
        )

    async def commit(self) -> None:
        # Containers and students first: memberships reference them by composite foreign keys (the
        # models declare no relationship, so the session would not order the inserts).
        await self.session.flush()
        self.session.add_all(self.memberships)
        self.memberships = []
        await self.session.commit()


async def _one_of_each(session: AsyncSession, school: School) -> None:
    m = Mirror(session, school)
    form, empty, lapsed, gone = (
        m.mis_class("C-4B", "4B"),
        m.mis_class("C-EMPTY", "Empty set"),
        m.mis_class("C-LAPSED", "Lapsed set"),
        m.mis_class("C-GONE", "Gone set", deleted=True),
    )
    reg, old_reg = m.group("G-4", "Reg 4"), m.group("G-OLD", "Reg old", deleted=True)
    # Clean: a class, a class and a registration group, a registration group only.
    m.member(m.student("S-CLEAN1", "Amy Jones"), form)
    clean2 = m.student("S-CLEAN2", "Ben Brown")
    m.member(clean2, form)
    m.member(clean2, reg)
    m.member(m.student("S-REGONLY", "Gus Hill"), reg)
    # One example of each code.
    m.member(m.student("S-NOUPN", "Cara Diaz", upn=None), form)
    m.member(m.student("S-TWIN1", "Dan Evans"), form)
    m.member(m.student("S-TWIN2", "Dan Evans"), form)
    m.member(m.student("S-NOYEAR", "Eve Fox", year=None), form)
    m.student("S-ALONE", "Finn Gray")
    # Deleted rows are not current: a deleted student has no issue and fills no class; a deleted
    # membership or container places no one; a deleted class is not empty.
    ghost = m.student("S-GHOST", "Amy Jones", upn=None, year=None, deleted=True)
    m.member(ghost, form)  # no second "Amy Jones" in 4B
    m.member(ghost, lapsed)  # so "Lapsed set" is empty
    m.member(m.student("S-LAPSED", "Ivy Jay"), form, deleted=True)
    m.member(m.student("S-OLDREG", "Kit Lee"), old_reg)
    del empty, gone
    await m.commit()


async def _another_schools_mess(session: AsyncSession, school: School) -> None:
    m = Mirror(session, school)
    m.mis_class("O-EMPTY", "Other empty")
    form = m.mis_class("O-4B", "4B")
    m.member(m.student("O-TWIN1", "Dan Evans", upn=None, year=None), form)
    m.member(m.student("O-TWIN2", "Dan Evans"), form)
    m.student("O-ALONE", "Finn Gray")
    await m.commit()


EXPECTED = [
    ("empty_class", "class", "C-EMPTY", "Empty set", None),
    ("empty_class", "class", "C-LAPSED", "Lapsed set", None),
    ("no_upn", "student", "S-NOUPN", "Cara Diaz", None),
    ("no_year", "student", "S-NOYEAR", "Eve Fox", None),
    ("shared_name_in_class", "student", "S-TWIN1", "Dan Evans", "4B"),
    ("shared_name_in_class", "student", "S-TWIN2", "Dan Evans", "4B"),
    ("student_in_no_class", "student", "S-ALONE", "Finn Gray", None),
    ("student_in_no_class", "student", "S-LAPSED", "Ivy Jay", None),
    ("student_in_no_class", "student", "S-OLDREG", "Kit Lee", None),
]


def _rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["code"], i["record"], i["wonde_id"], i["name"], i["class_name"]) for i in items]


def _url(school: School) -> str:
    return f"/v1/schools/{school.id}/data-quality"


async def test_lists_each_issue_once_and_no_clean_deleted_or_other_schools_record(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School, other_school: School
) -> None:
    await _one_of_each(session, school)
    await _another_schools_mess(session, other_school)
    response = await client.get(_url(school), headers=auth(school.id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert _rows(body["items"]) == EXPECTED
    assert body["total"] == len(EXPECTED)
    assert {code for code, *_ in EXPECTED} == set(FROM_THE_MIRROR)
    for item in body["items"]:
        assert item["sentence"] == IssueCode(item["code"]).sentence


async def test_an_empty_mirror_has_no_issues(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    response = await client.get(_url(school), headers=auth(school.id))
    assert response.json() == {"items": [], "page": 1, "per_page": 50, "total": 0}


async def test_pages_follow_one_stable_order(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School
) -> None:
    await _one_of_each(session, school)
    seen = []
    for page in (1, 2, 3):
        body = (await client.get(_url(school), params={"per_page": 4, "page": page}, headers=auth(school.id))).json()
        assert (body["total"], body["page"], body["per_page"]) == (len(EXPECTED), page, 4)
        seen += _rows(body["items"])
    assert seen == EXPECTED
    too_big = await client.get(_url(school), params={"per_page": 500}, headers=auth(school.id))
    assert too_big.status_code == 422


async def test_the_code_filter_lists_one_code_and_refuses_an_unknown_one(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School
) -> None:
    await _one_of_each(session, school)
    only = await client.get(_url(school), params={"code": "student_in_no_class"}, headers=auth(school.id))
    assert _rows(only.json()["items"]) == [row for row in EXPECTED if row[0] == "student_in_no_class"]
    assert only.json()["total"] == 3
    # A code with nothing to list is a known code, not an error.
    none = await client.get(_url(school), params={"code": "excluded"}, headers=auth(school.id))
    assert (none.status_code, none.json()["total"]) == (200, 0)
    unknown = await client.get(_url(school), params={"code": "no_name"}, headers=auth(school.id))
    assert unknown.status_code == 422
    assert unknown.json()["error"] == "ValidationError"
    assert unknown.json()["detail"][0]["loc"] == ["query", "code"]


async def test_a_teacher_reads_the_list(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School
) -> None:
    await _one_of_each(session, school)
    response = await client.get(_url(school), headers=auth(school.id, role="teacher"))
    assert response.status_code == 200
    assert _rows(response.json()["items"]) == EXPECTED


def counting_statements(connection: AsyncConnection) -> AbstractContextManager[list[str]]:
    return statements_seen(connection, lambda text: text.upper().startswith("SELECT"))


async def test_the_statement_count_does_not_grow_with_the_school(
    client: httpx.AsyncClient, auth: TokenFactory, connection: AsyncConnection, session: AsyncSession, school: School
) -> None:
    await _one_of_each(session, school)
    with counting_statements(connection) as small:
        assert (await client.get(_url(school), headers=auth(school.id))).json()["total"] == len(EXPECTED)
    m = Mirror(session, school)
    for n in range(40):
        crowded = m.mis_class(f"C-X{n}", f"Class {n}")
        m.member(m.student(f"S-X{n}a", "Sam Twin", upn=None), crowded)
        m.member(m.student(f"S-X{n}b", "Sam Twin", year=None), crowded)
        m.student(f"S-X{n}c", "Lone Pupil")
    await m.commit()
    with counting_statements(connection) as large:
        assert (await client.get(_url(school), headers=auth(school.id))).json()["total"] == len(EXPECTED) + 40 * 5
    assert len(large) == len(small) == 3  # the school, then the count and the page


def _recorded(school: School, record: str, wonde_id: str, code: str, fields: str) -> MisRecordIssue:
    now = utc_now()
    return MisRecordIssue(
        school_id=school.id,
        record=record,
        wonde_id=wonde_id,
        code=code,
        fields=fields,
        first_seen_at=now,
        last_seen_at=now,
    )


async def test_records_the_reads_set_aside_or_cleaned_are_listed_with_their_fields(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School, other_school: School
) -> None:
    m = Mirror(session, school)
    m.member(m.student("S-KEPT", "Lou Moss"), m.mis_class("C-1", "7X"))
    await m.commit()
    session.add_all(
        [
            _recorded(school, "student", "S-KEPT", "quarantined", "forename, surname"),  # named from the mirror
            _recorded(school, "student", "S-NEW", "quarantined", "updated_at"),  # never read: no name
            _recorded(school, "class", "C-1", "cleaned", "name"),
            _recorded(school, "group", "G-9", "cleaned", "code"),
            _recorded(other_school, "student", "S-KEPT", "quarantined", "forename"),
        ]
    )
    await session.commit()
    response = await client.get(_url(school), params={"per_page": 100}, headers=auth(school.id))
    listed = [
        (i["code"], i["record"], i["wonde_id"], i["name"], i["fields"])
        for i in response.json()["items"]
        if i["code"] in ("quarantined", "cleaned")
    ]
    assert listed == [
        ("cleaned", "class", "C-1", "7X", ["name"]),
        ("cleaned", "group", "G-9", None, ["code"]),
        ("quarantined", "student", "S-KEPT", "Lou Moss", ["forename", "surname"]),
        ("quarantined", "student", "S-NEW", None, ["updated_at"]),
    ]
    only = await client.get(_url(school), params={"code": "quarantined"}, headers=auth(school.id))
    assert only.json()["total"] == 2
    assert all(
        item["fields"] == [] for item in response.json()["items"] if item["code"] not in ("quarantined", "cleaned")
    )
