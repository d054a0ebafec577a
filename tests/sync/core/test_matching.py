"""The matching engine on small, hand-made schools: each rule in a plain table of cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from app.sync.core.matching import AppBand, AppPupil, MatchInput, MisContainer, MisStudent, match
from app.sync.core.matching.classes import name_similarity
from app.sync.core.matching.names import NameFrequencies, compare, normalise

FORM = "C-4B"


def school(
    pupils: Sequence[AppPupil],
    students: Sequence[MisStudent],
    *,
    extra_members: dict[str, frozenset[str]] | None = None,
    **decisions: object,
) -> MatchInput:
    """One MIS form with every student in it, one band "4B" holding every pupil, plus 30 distinct
    children so anchors map the band and names carry a class-sized weight of evidence."""
    filler = [
        (f"Filler{chr(97 + i % 26)}{chr(97 + i // 26)}", f"Pupil{chr(97 + i % 26)}{chr(97 + i // 26)}")
        for i in range(30)
    ]
    filler_students = [MisStudent(f"F{i}", first, last, year_group=4) for i, (first, last) in enumerate(filler)]
    filler_pupils = [AppPupil(f"f{i}", first, last, 4, ("B1",)) for i, (first, last) in enumerate(filler)]
    all_students = (*students, *filler_students)
    members = {FORM: frozenset(s.id for s in all_students)} | (extra_members or {})
    containers = tuple(MisContainer(c, "4B" if c == FORM else c) for c in members)
    return MatchInput(
        bands=(AppBand("B1", "Year 4B"),),
        pupils=(*pupils, *filler_pupils),
        containers=containers,
        students=all_students,
        members=members,
        **decisions,  # type: ignore[arg-type]
    )


def status_of(data: MatchInput, pupil_id: str) -> tuple[str, str | None]:
    result = match(data)
    [decision] = [p for p in result.pupils if p.pupil_id == pupil_id]
    return decision.status, decision.student_id


def pupil(pid: str, first: str, last: str, year: int | None = 4) -> AppPupil:
    return AppPupil(pid, first, last, year, ("B1",))


@pytest.mark.parametrize(
    ("typed", "known", "level"),
    [
        ("alfie", "alfred", "nickname"),
        ("izzy", "isabella", "nickname"),
        ("mohammed", "muhammad", "nickname"),
        ("pheobe", "phoebe", "nickname"),
        ("jonh", "john", "fuzzy"),
        ("chris", "christopher", "nickname"),
        ("alexa", "alexandra", "nickname"),
        ("kat", "katarzyna", "nickname"),
        ("max", "maximus", "prefix"),
        ("j", "james", "initial"),
        ("k", "james", "different"),
        ("oliver", "amelia", "different"),
    ],
)
def test_forename_levels(typed: str, known: str, level: str) -> None:
    assert compare("forename", typed, known, NameFrequencies([], [], 100)).name == level


def test_rare_names_say_more_than_common_ones() -> None:
    frequencies = NameFrequencies([], ["smith"] * 20 + ["featherstonehaugh"], 200)
    common = compare("surname", "smith", "smith", frequencies).bits
    rare = compare("surname", "featherstonehaugh", "featherstonehaugh", frequencies).bits
    assert rare > common + 4


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Zoë O'Brien-Smith", "zoe obrien smith"),
        ("  ÉLODIE  ", "elodie"),
        ("!!!", ""),
        ("", ""),
        ("Ł" * 10_000, "l" * 100),
    ],
)
def test_normalise(raw: str, normalised: str) -> None:
    assert normalise(raw) == normalised


def test_class_names_keep_their_digits() -> None:
    assert name_similarity("Year 6 Maple", "6 Maple") == 1.0
    assert name_similarity("6Ma1", "6Ma2") < name_similarity("6Ma1", "6 Ma1")
    assert name_similarity("7A", "8A") == 0.5


def test_a_plain_match_is_automatic_with_evidence() -> None:
    data = school([pupil("p1", "Alfie", "Featherstone")], [MisStudent("S1", "Alfred", "Featherstone", year_group=4)])
    result = match(data)
    [decision] = [p for p in result.pupils if p.pupil_id == "p1"]
    assert (decision.status, decision.student_id) == ("auto", "S1")
    assert any("nickname" in e for e in decision.evidence)
    assert any("same class" in e for e in decision.evidence)
    assert result.classes[0].status == "auto"
    assert result.classes[0].container_id == FORM


@pytest.mark.parametrize(
    ("pupils", "students", "who"),
    [
        # an initial-only first name
        ([pupil("p1", "J", "Featherstone")], [MisStudent("S1", "James", "Featherstone", year_group=4)], "p1"),
        # twins typed with the same initial
        (
            [pupil("p1", "J", "Okafor"), pupil("p2", "J", "Okafor")],
            [MisStudent("S1", "Jake", "Okafor", year_group=4), MisStudent("S2", "Josh", "Okafor", year_group=4)],
            "p2",
        ),
        # Alexander and Alexandra, both typed "Alex"
        (
            [pupil("p1", "Alex", "Moreau"), pupil("p2", "Alex", "Moreau")],
            [
                MisStudent("S1", "Alexander", "Moreau", year_group=4),
                MisStudent("S2", "Alexandra", "Moreau", year_group=4),
            ],
            "p1",
        ),
        # two app accounts for one child
        (
            [pupil("p1", "Niamh", "Gallagher"), pupil("p2", "Niamh", "Gallagher")],
            [MisStudent("S1", "Niamh", "Gallagher", year_group=4)],
            "p1",
        ),
        # an account older than the student's admission: perhaps a leaver's, whose namesake joined
        (
            [AppPupil("p1", "Ruby", "Hartley", 4, ("B1",), created_on=date(2021, 9, 1))],
            [MisStudent("S1", "Ruby", "Hartley", year_group=4, admitted_on=date(2026, 9, 3))],
            "p1",
        ),
    ],
    ids=["initial-only", "twins-initials", "alex", "duplicate-account", "older-account"],
)
def test_never_automatic(pupils: list[AppPupil], students: list[MisStudent], who: str) -> None:
    result = match(school(pupils, students))
    decisions = {p.pupil_id: p for p in result.pupils}
    assert decisions[who].status == "review"
    assert all(decisions[p.id].status != "auto" for p in pupils)


def test_a_candidate_outside_the_confirmed_class_is_not_automatic() -> None:
    other = frozenset({"S9"})
    data = school(
        [pupil("p1", "Tobias", "Wren")],
        [MisStudent("S9", "Tobias", "Wren", year_group=4)],
        extra_members={"C-5C": other},
    )
    # S9 is in the form too (school() puts everyone there); make the form exclude them.
    members = dict(data.members)
    members[FORM] = members[FORM] - other
    data = MatchInput(data.bands, data.pupils, data.containers, data.students, members)
    assert status_of(data, "p1") == ("review", None)


def test_the_admins_decisions_are_inputs() -> None:
    students = [MisStudent("S1", "Ada", "Lovelace", year_group=4), MisStudent("S2", "Ada", "Lovelace", year_group=4)]
    data = school(
        [pupil("p1", "Ada", "Lovelace")],
        students,
        pupil_links={"p1": "S2"},
        class_decisions={"B1": None},
        settled_students=frozenset({"S1"}),
    )
    result = match(data)
    decisions = {p.pupil_id: p for p in result.pupils}
    assert (decisions["p1"].status, decisions["p1"].student_id) == ("auto", "S2")
    assert decisions["p1"].evidence == ("linked by the admin",)
    assert (result.classes[0].status, result.classes[0].container_id) == ("none", None)
    assert "S1" not in result.new_students + result.in_review_students


@pytest.mark.parametrize(
    ("first", "last"),
    [("", "Smith"), ("!!!", "???"), ("陈", "伟"), ("A" * 10_000, "B" * 10_000), ("\u200b", " ")],
)
def test_strange_names_never_link_automatically_and_never_crash(first: str, last: str) -> None:
    data = school([pupil("p1", first, last)], [MisStudent("S1", "Wei", "Chen", year_group=4)])
    assert status_of(data, "p1")[0] in ("review", "none")


def test_unclaimed_students_are_new_or_in_review() -> None:
    data = school(
        [pupil("p1", "Sam", "Ng")],
        [
            MisStudent("S1", "Samuel", "Ng", year_group=4),
            MisStudent("S2", "Samantha", "Ng", year_group=4),
            MisStudent("S3", "Priya", "Raman", year_group=4),
        ],
    )
    result = match(data)
    assert "S3" in result.new_students
    assert {"S1", "S2"} <= set(result.in_review_students)


def test_a_name_in_another_script_is_never_automatic_even_when_it_transliterates() -> None:
    students = [MisStudent("S1", "Wei", "Chen", year_group=4)] + [
        MisStudent(f"X{i}", f"Other{chr(97 + i)}", f"Child{chr(97 + i)}", year_group=4) for i in range(20)
    ]
    data = school([pupil("p1", "伟", "陈")], students)
    result = match(data)
    [decision] = [p for p in result.pupils if p.pupil_id == "p1"]
    assert decision.status == "review"
    assert "non-Latin script" in " ".join(decision.evidence)
