"""One row per MIS class for the admin (issue 18, item 2): a primary's registration group and the class
of the same name are one row; each row carries its suggested action and band; many decisions go in one
transaction; a decision can be cleared; an "import" or "no_action" with a band is refused; and the
admin can see who is in an MIS class."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Band, MisClass, MisGroup, MisMembership, School, UploaderDecision
from app.sync.core.merge_plan import CreateBand, LinkBand
from app.sync.mirror.flow import write_read
from app.sync.onboarding.service import compute_plan
from app.wonde.sandbox.generate import generate_school
from tests.fixtures.app import TokenFactory
from tests.fixtures.schools import SmallSchool, mis_read, small_school


async def _with_registration_group(session: AsyncSession, school: SmallSchool) -> MisGroup:
    """4B as a primary has it: the class 4B and the registration group 4B, the same five children."""
    group = MisGroup(school_id=school.school_id, wonde_id="G-4B", name="4B", type="REGISTRATION", year_group=4)
    session.add(group)
    await session.flush()
    session.add_all(
        MisMembership(school_id=school.school_id, mis_student_id=s.id, mis_group_id=group.id)
        for s in school.students[:5]
    )
    await session.flush()
    return group


def _url(school: SmallSchool | str, path: str = "") -> str:
    school_id = school if isinstance(school, str) else school.school_id
    return f"/v1/schools/{school_id}/uploader{path}"


async def test_a_generated_primary_lists_each_form_once(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    """The sandbox's primaries have a class and a registration group per form, of the same name."""
    dump = generate_school("primary", 90, 7)
    school = School(id=f"prim-{uuid.uuid4().hex[:8]}", name="Generated Primary", state="approved")
    session.add(school)
    await session.flush()
    await write_read(session, school.id, mis_read(dump), complete=True)
    await session.commit()
    view = (await client.get(_url(school.id), headers=auth(school.id))).json()
    twice = [name for name, n in Counter(row["name"] for row in view).items() if n > 1]
    assert twice == []
    forms = {g["name"]: g["id"] for g in dump["groups"] if g["type"] == "REGISTRATION"}
    rows = {row["name"]: row for row in view}
    for name, group_id in forms.items():
        assert rows[name]["kind"] == "class"
        assert rows[name]["registration_group"] == {"id": group_id, "name": name}


async def test_each_row_carries_its_suggested_action_and_band(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    await session.commit()
    view = (await client.get(_url(school), headers=auth(school.school_id))).json()
    rows = {row["wonde_class_id"]: row for row in view}
    assert rows["C-4B"]["suggested_action"] == "match"
    assert rows["C-4B"]["suggested_band"] == {"id": str(school.band.id), "name": "Class 4B"}
    assert rows["C-4C"]["suggested_action"] == "import"
    assert rows["C-4C"]["suggested_band"] is None
    assert rows["C-4B"]["registration_group"] is None
    assert rows["C-4B"]["decision"] is None


async def test_accepting_every_suggestion_is_one_call(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    await _with_registration_group(session, school)
    await session.commit()
    headers = auth(school.school_id)
    view = (await client.get(_url(school), headers=headers)).json()
    body = {
        "decisions": [
            {
                "wonde_class_id": row["wonde_class_id"],
                "action": row["suggested_action"],
                "band_id": row["suggested_band"]["id"] if row["suggested_band"] else None,
            }
            for row in view
        ]
    }
    accepted = await client.put(_url(school, "/decisions"), json=body, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert {d["wonde_class_id"]: d["action"] for d in accepted.json()} == {
        "C-4B": "match",
        "C-4C": "import",
        "C-MA1": "import",
        "C-5A": "import",
    }
    after = {row["wonde_class_id"]: row["decision"] for row in (await client.get(_url(school), headers=headers)).json()}
    assert after["C-4B"] == {"action": "match", "band_id": str(school.band.id)}
    assert after["C-4C"] == {"action": "import", "band_id": None}
    # One decision for the form, on the class: the merge follows the class, the group is not a second band.
    _, _, plan = await compute_plan(session, school.school_id)
    assert sorted(plan.leaving()) == []


async def test_many_decisions_are_all_or_nothing(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, other_school: School
) -> None:
    school = await small_school(session)
    foreign = Band(school_id=other_school.id, name="Theirs")
    spare = Band(school_id=school.school_id, name="Spare")
    session.add_all([foreign, spare])
    await session.commit()
    headers = auth(school.school_id)
    band = str(school.band.id)
    good = {"wonde_class_id": "C-4C", "action": "import"}
    cases = [
        ([good, {"wonde_class_id": "C-NOPE", "action": "import"}], 404, "ClassNotFound", "C-NOPE"),
        (
            [good, {"wonde_class_id": "C-4B", "action": "match", "band_id": str(foreign.id)}],
            404,
            "BandNotFound",
            "decisions[1]",
        ),
        ([good, {"wonde_class_id": "C-4B", "action": "match"}], 422, "BandRequired", "decisions[1]"),
        ([good, {"wonde_class_id": "C-4C", "action": "no_action"}], 422, "SameClassTwice", "decisions[0] (C-4C)"),
        (
            [
                {"wonde_class_id": "C-4B", "action": "match", "band_id": band},
                {"wonde_class_id": "C-MA1", "action": "match", "band_id": band},
            ],
            409,
            "BandAlreadyMatched",
            "C-MA1",
        ),
        ([], 422, "ValidationError", "decisions"),
    ]
    for items, status, error, named in cases:
        response = await client.put(_url(school, "/decisions"), json={"decisions": items}, headers=headers)
        assert (response.status_code, response.json()["error"]) == (status, error), items
        assert named in str(response.json()["detail"]), response.json()
    stored = await session.scalars(select(UploaderDecision).where(UploaderDecision.school_id == school.school_id))
    assert list(stored) == []
    # Validated as a whole: two classes may swap bands in one call.
    first = [
        {"wonde_class_id": "C-4B", "action": "match", "band_id": band},
        {"wonde_class_id": "C-4C", "action": "match", "band_id": str(spare.id)},
    ]
    assert (await client.put(_url(school, "/decisions"), json={"decisions": first}, headers=headers)).status_code == 200
    swapped = [
        {"wonde_class_id": "C-4B", "action": "match", "band_id": str(spare.id)},
        {"wonde_class_id": "C-4C", "action": "match", "band_id": band},
    ]
    response = await client.put(_url(school, "/decisions"), json={"decisions": swapped}, headers=headers)
    assert response.status_code == 200, response.text
    assert {d["wonde_class_id"]: d["band_id"] for d in response.json()} == {"C-4B": str(spare.id), "C-4C": band}


async def test_a_band_with_import_or_no_action_is_a_422_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    """It used to be dropped without a word: the admin thought the class was matched."""
    school = await small_school(session)
    await session.commit()
    headers = auth(school.school_id)
    band = str(school.band.id)
    for action in ("import", "no_action"):
        single = await client.put(
            _url(school, "/classes/C-4B"), json={"action": action, "band_id": band}, headers=headers
        )
        assert (single.status_code, single.json()["error"]) == (422, "ValidationError"), single.text
        assert single.json()["detail"][0]["loc"] == ["body", "band_id"]
        body = {
            "decisions": [
                {"wonde_class_id": "C-4C", "action": "import"},
                {"wonde_class_id": "C-4B", "action": action, "band_id": band},
            ]
        }
        bulk = await client.put(_url(school, "/decisions"), json=body, headers=headers)
        assert (bulk.status_code, bulk.json()["error"]) == (422, "ValidationError"), bulk.text
        assert bulk.json()["detail"][0]["loc"] == ["body", "decisions", 1, "band_id"]
    stored = await session.scalars(select(UploaderDecision).where(UploaderDecision.school_id == school.school_id))
    assert list(stored) == []


async def test_a_decision_can_be_cleared(client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession) -> None:
    school = await small_school(session)
    await session.commit()
    headers = auth(school.school_id)
    body = {"action": "match", "band_id": str(school.band.id)}
    assert (await client.put(_url(school, "/classes/C-4B"), json=body, headers=headers)).status_code == 200
    for _ in range(2):  # clearing twice is clearing once
        cleared = await client.delete(_url(school, "/classes/C-4B"), headers=headers)
        assert cleared.status_code == 204, cleared.text
    row = next(r for r in (await client.get(_url(school), headers=headers)).json() if r["wonde_class_id"] == "C-4B")
    assert row["decision"] is None
    missing = await client.delete(_url(school, "/classes/C-NOPE"), headers=headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "ClassNotFound")
    # The band is free again: another class may have it.
    other = await client.put(_url(school, "/classes/C-4C"), json=body, headers=headers)
    assert other.status_code == 200, other.text
    # In a bulk PUT, "action": null clears that class's decision.
    bulk = {"decisions": [{"wonde_class_id": "C-4C", "action": None}, {"wonde_class_id": "C-5A", "action": "import"}]}
    response = await client.put(_url(school, "/decisions"), json=bulk, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"wonde_class_id": "C-4C", "action": None, "band_id": None},
        {"wonde_class_id": "C-5A", "action": "import", "band_id": None},
    ]


async def test_a_decision_on_either_id_of_a_folded_form_is_one_decision(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    group = await _with_registration_group(session, school)
    await session.commit()
    headers = auth(school.school_id)
    body = {"action": "match", "band_id": str(school.band.id)}
    via_class = await client.put(_url(school, "/classes/C-4B"), json=body, headers=headers)
    assert via_class.status_code == 200, via_class.text
    _, _, by_class = await compute_plan(session, school.school_id)
    # Deciding through the group's id is the same decision, on the same row: no 409 for the band.
    via_group = await client.put(_url(school, "/classes/G-4B"), json=body, headers=headers)
    assert via_group.status_code == 200, via_group.text
    _, _, by_group = await compute_plan(session, school.school_id)
    assert by_group.changes == by_class.changes
    stored = list(await session.scalars(select(UploaderDecision).where(UploaderDecision.school_id == school.school_id)))
    assert [(d.mis_class_id, d.mis_group_id) for d in stored] == [(school.form.id, None)]
    view = (await client.get(_url(school), headers=headers)).json()
    assert [r["wonde_class_id"] for r in view if r["name"] == "4B"] == ["C-4B"]
    both = {
        "decisions": [{"wonde_class_id": "C-4B", "action": "import"}, {"wonde_class_id": "G-4B", "action": "import"}]
    }
    twice = await client.put(_url(school, "/decisions"), json=both, headers=headers)
    assert (twice.status_code, twice.json()["error"]) == (422, "SameClassTwice")
    assert "G-4B" in twice.json()["detail"]
    assert (await client.delete(_url(school, "/classes/G-4B"), headers=headers)).status_code == 204
    assert [r["decision"] for r in (await client.get(_url(school), headers=headers)).json() if r["name"] == "4B"] == [
        None
    ]
    assert group.id  # the group stays in the mirror, folded into the class's row


async def test_a_form_whose_band_follows_the_group_keeps_following_it(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    """A band merged before forms were folded follows the registration group: the row shows it, and a
    decision on the row stays with the group (the merge and the daily sync go on as they did)."""
    school = await small_school(session)
    group = await _with_registration_group(session, school)
    school.band.mis_group_id = group.id
    await session.commit()
    headers = auth(school.school_id)
    row = next(r for r in (await client.get(_url(school), headers=headers)).json() if r["name"] == "4B")
    assert (row["wonde_class_id"], row["linked_band_id"]) == ("C-4B", str(school.band.id))
    assert row["suggested_action"] == "match"
    assert row["suggested_band"] == {"id": str(school.band.id), "name": "Class 4B"}
    body = {"action": "match", "band_id": str(school.band.id)}
    decided = await client.put(_url(school, "/classes/C-4B"), json=body, headers=headers)
    assert decided.status_code == 200, decided.text
    stored = await session.scalar(select(UploaderDecision).where(UploaderDecision.school_id == school.school_id))
    assert stored is not None and (stored.mis_class_id, stored.mis_group_id) == (None, group.id)
    _, _, plan = await compute_plan(session, school.school_id)
    assert [c for c in plan.changes if isinstance(c, (LinkBand, CreateBand))] == []  # no relink to the class


async def test_who_is_in_an_mis_class(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, other_school: School
) -> None:
    school = await small_school(session)
    await _with_registration_group(session, school)
    school.pupils[0].mis_student_id = school.students[0].id
    theirs = MisClass(school_id=other_school.id, wonde_id="C-THEIRS", name="6T", year_group=6)
    session.add(theirs)
    await session.commit()
    headers = auth(school.school_id)
    listed = await client.get(_url(school, "/classes/C-4B/students"), headers=headers)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert (page["total"], page["page"]) == (5, 1)
    first = next(s for s in page["items"] if s["wonde_student_id"] == "S0")
    assert first == {
        "wonde_student_id": "S0",
        "forename": "Amelia",
        "surname": "Hartley",
        "year_group": 4,
        "account": {"id": str(school.pupils[0].id), "name": "Amelia Hartley"},
    }
    assert all(s["account"] is None for s in page["items"] if s["wonde_student_id"] != "S0")
    group = await client.get(_url(school, "/classes/G-4B/students"), headers=headers)
    assert group.json()["total"] == 5
    for unknown in ("C-NOPE", "C-THEIRS"):
        response = await client.get(_url(school, f"/classes/{unknown}/students"), headers=headers)
        assert (response.status_code, response.json()["error"]) == (404, "ClassNotFound")
    teacher = await client.get(_url(school, "/classes/C-4B/students"), headers=auth(school.school_id, role="teacher"))
    assert teacher.status_code == 403
