"""Generated schools look like real ones, come out the same for a seed, and dumps read back whole."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from typing import Any

from app.wonde.sandbox.dump import export_dump, load_dump
from app.wonde.sandbox.generate import generate_school
from app.wonde.sandbox.names import ORIGINS, PREFERRED_FORENAMES
from app.wonde.sandbox.people import upn
from app.wonde.sandbox.state import SandboxState
from tests.fixtures.sandbox import generated

Json = dict[str, Any]


def year_of(student: Json) -> str:
    return str(student["education_details"]["data"]["current_nc_year"])


def form_of(student: Json) -> str:
    [form] = [str(g["name"]) for g in student["groups"]["data"] if g["type"] == "REGISTRATION"]
    return form


def twin_pairs(students: list[Json]) -> list[tuple[Json, Json]]:
    """Pupils sharing surname, year, form and classes, with different forenames."""
    together: defaultdict[tuple[Any, ...], list[Json]] = defaultdict(list)
    for s in students:
        classes = tuple(sorted(c["id"] for c in s["classes"]["data"]))
        together[(s["surname"], year_of(s), form_of(s), classes)].append(s)
    return [(group[0], group[1]) for group in together.values() if len(group) == 2]


def test_a_secondary_school_of_2000_is_quick_and_complete() -> None:
    started = time.monotonic()
    dump = generate_school("secondary", 2000, 11)
    assert time.monotonic() - started < 2.5
    students = dump["students"]
    assert len(students) == 2000 and dump["deletions"] == []
    assert set(Counter(year_of(s) for s in students)) == {str(y) for y in range(7, 14)}
    assert all(len(s["classes"]["data"]) >= 3 for s in students)
    assert {g["type"] for g in dump["groups"]} == {"REGISTRATION", "YEAR"}
    form_sizes = Counter(form_of(s) for s in students)
    assert max(form_sizes.values()) <= 30 and min(form_sizes.values()) >= 20
    names = {c["name"] for c in dump["classes"]}
    assert {"7x/Ma1", "7y/Ma4", "7A/En", "7x/Sc1", "13A/En"} <= names
    maths = Counter(c["name"] for s in students for c in s["classes"]["data"] if "/Ma" in c["name"])
    assert max(maths.values()) <= 30
    assert len(dump["employees"]) > len(dump["classes"]) / 8 and len(dump["subjects"]) == 3


def test_identifiers_are_wonde_shaped_and_unique() -> None:
    dump = generated("secondary", 600, 1)
    ids = [r["id"] for key in ("students", "classes", "groups") for r in dump[key]] + [dump["school"]["id"]]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"A\d{9,10}", i) for i in ids)
    for key in ("upi", "mis_id"):
        assert len({s[key] for s in dump["students"]}) == 600
    details = [s["education_details"]["data"] for s in dump["students"]]
    assert len({d["upn"] for d in details}) == len({d["admission_number"] for d in details}) == 600
    assert all(re.fullmatch(r"[0-9a-f]{32}", s["upi"]) for s in dump["students"])
    assert all(
        re.fullmatch(r"[A-Z]\d{12}", d["upn"]) and re.fullmatch(r"\d{6}", d["admission_number"]) for d in details
    )


def test_upn_check_letter() -> None:
    # By hand: 8x2 + 1x4 + 2x5 + 1x10 + 2x11 + 3x12 + 4x13 = 150; 150 mod 23 = 12, which is N (no I, O or S).
    assert upn("801", "2000", 2001, 234) == "N801200001234"


def test_names_are_realistic() -> None:
    students = generated("secondary", 600, 1)["students"]
    known_as = [s for s in students if s["forename"] != s["legal_forename"]]
    assert 0.05 < len(known_as) / 600 < 0.16
    assert all(PREFERRED_FORENAMES[s["legal_forename"]] == s["forename"] for s in known_as)
    double = [s for s in students if "-" in s["surname"] and s["surname"].split("-")[0] not in ("Al", "El")]
    assert 0.02 < len(double) / 600 < 0.09
    assert 0.3 < sum(1 for s in students if s["middle_names"]) / 600 < 0.5
    assert any(not s["forename"].isascii() for s in students)
    assert any(not s["surname"].isascii() or "'" in s["surname"] for s in students)
    assert all(s["initials"] == s["forename"][0] + s["surname"][0] for s in students)


def test_twins_share_surname_year_form_and_classes() -> None:
    students = generated("secondary", 600, 1)["students"]
    pairs = twin_pairs(students)
    assert len(pairs) >= 3
    assert all(a["forename"] != b["forename"] for a, b in pairs)


def test_one_pair_of_namesakes_from_500_pupils() -> None:
    def namesakes(dump: Json) -> list[tuple[str, str]]:
        names = Counter((s["forename"], s["surname"]) for s in dump["students"])
        return [name for name, count in names.items() if count > 1]

    assert len(namesakes(generated("secondary", 600, 1))) == 1
    assert namesakes(generated("primary", 420, 2)) == []


def test_primary_forms_are_classes() -> None:
    dump = generated("primary", 420, 2)
    students = dump["students"]
    assert Counter(year_of(s) for s in students) == dict.fromkeys(("R", "1", "2", "3", "4", "5", "6"), 60)
    assert all([c["name"] for c in s["classes"]["data"]] == [form_of(s)] for s in students)
    assert max(Counter(form_of(s) for s in students).values()) <= 30


def test_schools_differ_in_year_codes_and_form_names() -> None:
    codes, styles = set(), set()
    for seed in range(1, 9):
        dump = generate_school("primary", 60, seed)
        codes |= {g["code"] for g in dump["groups"] if g["type"] == "YEAR"}
        styles.add(any(g["name"][0].isdigit() for g in dump["groups"] if g["type"] == "REGISTRATION"))
    assert {"4", "Year 4", "R", "Year R"} <= codes
    assert styles == {True, False}  # "3B" in some schools, trees in others


def test_the_same_seed_gives_the_same_school() -> None:
    assert generate_school("primary", 90, 4) == generate_school("primary", 90, 4)
    assert generate_school("primary", 90, 4)["school"]["id"] != generate_school("primary", 90, 5)["school"]["id"]


def test_every_preferred_name_is_a_legal_name_in_the_tables() -> None:
    legal = {name for origin in ORIGINS for name in origin.girls + origin.boys}
    assert set(PREFERRED_FORENAMES) <= legal


def test_a_dump_reads_back_exactly() -> None:
    dump = generated("secondary", 300, 7)
    state = SandboxState()
    assert export_dump(state, load_dump(state, dump)) == dump


def test_a_real_export_loads_leniently() -> None:
    """Lists wrapped in ``data``, no groups or deletions list, memberships from either side, nulls, extras."""
    stamp = {"date": "2024-09-02 08:36:08.000000", "timezone_type": 3, "timezone": "UTC"}
    year = {"id": "A200", "mis_id": 7, "name": "Year 4", "code": "Y4", "type": "YEAR"}
    dump = {
        "school": {"data": {"id": "A1930499544", "name": "Wonde Testing School", "mis": "SIMS", "cbds": []}},
        "students": {
            "data": [
                {"id": "A1", "mis_id": 10, "forename": "Amy", "surname": "Jones", "year": {"data": year}, "x": 1},
                {"id": "A2", "forename": None, "created_at": stamp, "education_details": {"data": None}},
            ]
        },
        "classes": [
            {"id": "A300", "name": "4B/Ma", "subject": {"data": {"id": "A5"}}, "students": {"data": [{"id": "A2"}]}},
            {"id": "A301", "name": "4B", "updated_at": None},
        ],
    }
    state = SandboxState()
    school_id = load_dump(state, dump)
    school = state.school(school_id)
    assert set(school.students) == {"A1", "A2"} and school.students["A2"].created_at.year == 2024
    assert school.class_links.members_of("A300") == {"A2"} and school.classes["A300"].subject == "A5"
    assert school.group_links.members_of("A200") == {"A1"} and school.groups["A200"].year == 4
    assert school.classes["A301"].year == 4  # an empty class: from its name
    exported = export_dump(state, school_id)
    assert exported["deletions"] == [] and exported["students"][0]["year"]["data"]["code"] == "Y4"
