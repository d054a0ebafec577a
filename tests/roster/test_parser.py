from __future__ import annotations

import pytest

from app.roster.parser import RosterInvalid, RowError, parse_roster

HEADER = "pupil_id,first_name,last_name,band,year_group\n"


def _errors(data: bytes | str) -> list[tuple[int, str | None]]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(RosterInvalid) as caught:
        parse_roster(raw)
    return [(e.line, e.column) for e in caught.value.errors]


def test_a_good_file_parses() -> None:
    rows = parse_roster(
        ("\ufeff" + HEADER + "p1,Amy,Jones,4B,Y4\n,Zoë,Smith-Brown,4B,\n\np3, Ben ,Brown,,R\n").encode()
    )
    assert [(r.line, r.pupil_id, r.first_name, r.band, r.year_group) for r in rows] == [
        (2, "p1", "Amy", "4B", 4),
        (3, None, "Zoë", "4B", None),
        (5, "p3", "Ben", None, 0),
    ]


def test_header_columns_may_come_in_any_order() -> None:
    [row] = parse_roster(b"band,year_group,last_name,first_name,pupil_id\n4B,4,Jones,Amy,p1\n")
    assert (row.pupil_id, row.first_name, row.last_name, row.band, row.year_group) == ("p1", "Amy", "Jones", "4B", 4)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("p1,,Jones,4B,4\n", [(2, "first_name")]),
        ("p1,Amy,Jones,4B,Year 15\n", [(2, "year_group")]),
        ("p1,Amy," + "J" * 101 + ",4B,4\n", [(2, "last_name")]),
        ("p1,Amy,Jones,4B\n", [(2, None)]),
        ("p1,Amy\tJ,Jones,4B,4\n", [(2, "first_name")]),
        ("p1,Amy,Jones,4B,4\np1,Amelia,Jones,4B,4\n", [(3, "pupil_id")]),
        ("p1,Amy,Jones,4B,4\np1,Amy,Jones,5C,5\n", [(3, "year_group")]),
        ('p1,"Amy,Jones,4B,4\n', [(2, None)]),
    ],
    ids=[
        "missing-name",
        "bad-year",
        "too-long",
        "short-row",
        "control-char",
        "dup-id-names",
        "dup-id-year",
        "open-quote",
    ],
)
def test_bad_rows_are_named_by_line_and_column(body: str, expected: list[tuple[int, str | None]]) -> None:
    assert _errors(HEADER + body) == expected


def test_every_bad_line_is_reported_at_once() -> None:
    lines = [f"p{i},Amy{i},Jones,4B,4" for i in range(50)]
    lines[9] = "p9,,Jones,4B,4"
    lines[24] = "p24,Amy,Jones,4B,banana"
    lines[41] = "p41,Amy,,4B,4"
    assert _errors(HEADER + "\n".join(lines) + "\n") == [(11, "first_name"), (26, "year_group"), (43, "last_name")]


def test_unknown_and_missing_columns() -> None:
    assert _errors("pupil_id,first_name,surname,band,year_group,dob\n") == [
        (1, "surname"),
        (1, "dob"),
        (1, "last_name"),
    ]


def test_bad_encoding_names_the_line() -> None:
    data = (HEADER + "p1,Amy,Jones,4B,4\n").encode() + b"p2,Zo\xeb,Smith,4B,4\n"
    with pytest.raises(RosterInvalid) as caught:
        parse_roster(data)
    [error] = caught.value.errors
    assert error.line == 3
    assert "UTF-8" in error.message


def test_nul_bytes_are_refused() -> None:
    assert _errors(HEADER + "p1,Amy,Jo\x00nes,4B,4\n") == [(2, None)]


def test_empty_and_header_only_files() -> None:
    assert _errors(b"") == [(1, None)]
    assert _errors(HEADER) == [(2, None)]


def test_row_error_is_plain_data() -> None:
    assert RowError(3, "band", "x") == RowError(3, "band", "x")
