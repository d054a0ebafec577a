from __future__ import annotations

import pytest

from app.pupils.usernames import allocate_usernames, base_username


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Amy", "Jones", "amy.jones"),
        ("Zoë", "Smith-Brown", "zoe.smithbrown"),
        ("Łukasz", "Wiśniewski", "lukasz.wisniewski"),
        ("Siobhán", "O'Neill", "siobhan.oneill"),
        ("Mary Jane", "Watson", "maryjane.watson"),
        ("Ahmed", "", "ahmed"),
        ("陈", "伟", "chen.wei"),
        ("!!!", "???", "pupil"),
        ("Maximilianthelong", "Featherstonehaugh-Cholmondeley", "maximilianthelo.featherstonehau"),
    ],
)
def test_base_usernames_are_readable_ascii(first: str, last: str, expected: str) -> None:
    assert base_username(first, last) == expected


def test_namesakes_get_numbers_and_taken_names_are_never_reused() -> None:
    taken = {"amy.jones", "amy.jones2"}
    assert allocate_usernames([("Amy", "Jones"), ("Amy", "Jones"), ("Ben", "Brown")], taken) == [
        "amy.jones3",
        "amy.jones4",
        "ben.brown",
    ]
    assert {"amy.jones3", "amy.jones4", "ben.brown"} <= taken
