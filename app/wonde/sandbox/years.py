"""Year groups as the sandbox's MIS writes them, and how labels move up a year at rollover."""

from __future__ import annotations

import re

from app.year_groups import normalise_year

# A year at the start of a label: "7A", "RB", "Year 4", "10x/Ma1"; not the "R" of "Rowan".
_LEADING_YEAR = re.compile(r"^(?:Year\s*|Y)?(?P<year>R|\d{1,2})(?=$|[^a-z0-9]|[a-z](?![a-z]))")


def nc_code(year: int) -> str:
    """``current_nc_year`` as Wonde sends it: "N1", "N2", "R", then "1" to "14"."""
    return {-2: "N1", -1: "N2", 0: "R"}.get(year, str(year))


def year_name(year: int) -> str:
    return "Reception" if year == 0 else f"Year {nc_code(year)}"


def year_code(year: int, prefixed: bool) -> str:
    """A YEAR group's free-text code; schools write it as "4" or as "Year 4" (and "R" or "Year R")."""
    return f"Year {nc_code(year)}" if prefixed else nc_code(year)


def leading_year(label: str | None) -> int | None:
    """The year a class or form name starts with, if it starts with one."""
    match = _LEADING_YEAR.match(label or "")
    return normalise_year(match["year"]) if match else None


def shift_label(label: str | None, old: int, new: int) -> str | None:
    """``label`` with its leading year ``old`` written as ``new`` ("7x/Ma1" -> "8x/Ma1"); others unchanged."""
    if label is None:
        return None
    match = _LEADING_YEAR.match(label)
    if match is None or normalise_year(match["year"]) != old:
        return label
    return label[: match.start("year")] + nc_code(new) + label[match.end("year") :]
