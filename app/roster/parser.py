"""Reading the app roster CSV (design §4): ``pupil_id,first_name,last_name,band,year_group``.

Pure and all-or-nothing: either every row is good and a list of rows comes back, or
``RosterInvalid`` lists every bad line with its line number and column, so the admin can fix the
whole file in one go. Line numbers are the file's own (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

from app.year_groups import normalise_year

COLUMNS = ("pupil_id", "first_name", "last_name", "band", "year_group")
MAX_ROWS = 50_000
MAX_ERRORS = 500
LIMITS = {"pupil_id": 64, "first_name": 100, "last_name": 100, "band": 200, "year_group": 32}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str


class RosterInvalid(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors[:MAX_ERRORS]
        self.total = len(errors)
        super().__init__(f"{len(errors)} problem(s) in the roster")


@dataclass(frozen=True)
class RosterRow:
    line: int
    pupil_id: str | None
    first_name: str
    last_name: str
    band: str | None
    year_group: int | None


def _decode(data: bytes) -> str:
    """The text of the file, or every line that is not UTF-8 (a BOM is allowed)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    errors = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                RowError(number, None, f"is not valid UTF-8 (byte {exc.start + 1}); save the file as CSV UTF-8")
            )
    raise RosterInvalid(errors)


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def _check_header(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    errors = [
        RowError(1, name or f"column {index + 1}", "is not a roster column; expected " + ",".join(COLUMNS))
        for index, name in enumerate(names)
        if name not in COLUMNS
    ]
    errors += [RowError(1, name, "appears more than once") for name in COLUMNS if names.count(name) > 1]
    errors += [RowError(1, name, "is missing from the header") for name in COLUMNS if name not in names]
    if errors:
        raise RosterInvalid(errors)
    return {name: names.index(name) for name in COLUMNS}


def _check_field(line: int, column: str, value: str, errors: list[RowError]) -> str | None:
    value = value.strip()
    if len(value) > LIMITS[column]:
        errors.append(RowError(line, column, f"is {len(value)} characters long; the most is {LIMITS[column]}"))
        return None
    if _has_control_characters(value):
        errors.append(RowError(line, column, "contains a control character"))
        return None
    return value or None


def _parse_row(line: int, fields: list[str], positions: dict[str, int], errors: list[RowError]) -> RosterRow | None:
    if len(fields) != len(positions):
        errors.append(RowError(line, None, f"has {len(fields)} fields; the header has {len(positions)}"))
        return None
    before = len(errors)
    values = {column: _check_field(line, column, fields[index], errors) for column, index in positions.items()}
    for column in ("first_name", "last_name"):
        if values[column] is None and not any(e.line == line and e.column == column for e in errors[before:]):
            errors.append(RowError(line, column, "is empty; every pupil needs a first and a last name"))
    year_group = None
    if values["year_group"] is not None:
        year_group = normalise_year(values["year_group"])
        if year_group is None:
            errors.append(
                RowError(line, "year_group", f"'{values['year_group']}' is not a year group (use N1, N2, R or 1 to 14)")
            )
    if len(errors) > before:
        return None
    first_name, last_name = values["first_name"], values["last_name"]
    assert first_name is not None
    assert last_name is not None
    return RosterRow(line, values["pupil_id"], first_name, last_name, values["band"], year_group)


def _check_pupil_ids(rows: list[RosterRow], errors: list[RowError]) -> None:
    """One pupil_id is one child: the same id with another name or year is a mistake in the file."""
    first_seen: dict[str, RosterRow] = {}
    for row in rows:
        if row.pupil_id is None:
            continue
        seen = first_seen.setdefault(row.pupil_id, row)
        if (seen.first_name, seen.last_name) != (row.first_name, row.last_name):
            errors.append(
                RowError(row.line, "pupil_id", f"'{row.pupil_id}' is on line {seen.line} with a different name")
            )
        elif None not in (seen.year_group, row.year_group) and seen.year_group != row.year_group:
            errors.append(
                RowError(row.line, "year_group", f"differs from line {seen.line} for pupil_id '{row.pupil_id}'")
            )


def parse_roster(data: bytes) -> list[RosterRow]:
    """Every row of a roster file, or ``RosterInvalid`` naming every bad line and column."""
    text = _decode(data)
    errors = [
        RowError(number, None, "contains a NUL byte")
        for number, line in enumerate(text.split("\n"), start=1)
        if "\x00" in line
    ]
    if errors:
        raise RosterInvalid(errors)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise RosterInvalid([RowError(1, None, "the file is empty; the first line must be the header")]) from None
    except csv.Error as exc:
        raise RosterInvalid([RowError(1, None, f"cannot be read as CSV: {exc}")]) from None
    positions = _check_header(header)
    rows: list[RosterRow] = []
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(line, None, f"cannot be read as CSV: {exc}"))
            break  # after a broken quote the rest of the file cannot be split into rows reliably
        if not any(field.strip() for field in fields):
            continue  # blank lines are harmless
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, None, f"the file has more than {MAX_ROWS} rows; split it"))
            break
        row = _parse_row(line, fields, positions, errors)
        if row is not None:
            rows.append(row)
    _check_pupil_ids(rows, errors)
    if errors:
        raise RosterInvalid(sorted(errors, key=lambda e: e.line))
    if not rows:
        raise RosterInvalid([RowError(2, None, "the file has a header but no pupils")])
    return rows
