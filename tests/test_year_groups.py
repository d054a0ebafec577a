from __future__ import annotations

import pytest

from app.year_groups import normalise_year, year_label


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("4", 4),
        ("Year 4", 4),
        ("Y4", 4),
        ("yr 11", 11),
        ("R", 0),
        ("Year R", 0),
        ("Girls Reception", 0),
        ("Rec", 0),
        ("0", 0),
        ("N1", -2),
        ("N2", -1),
        ("Nursery", -1),
        ("Year N", -1),
        ("14", 14),
        ("40", None),
        ("15", None),
        ("Year Twelve", None),
        ("", None),
        (None, None),
    ],
)
def test_free_text_year_codes(code: str | None, expected: int | None) -> None:
    assert normalise_year(code) == expected


def test_labels() -> None:
    assert [year_label(y) for y in (-2, -1, 0, 6, None)] == ["N1", "N2", "R", "Year 6", "unknown"]
