"""Year groups as integers: N1 = -2, N2 = -1, Reception = 0, then Years 1 to 14.

Schools type year codes by hand, so the same year arrives as ``4``, ``Y4``, ``Year 4`` or ``Yr 4``
and Reception as ``R``, ``Rec``, ``Year R`` or ``Girls Reception``. Anything else is unknown
(None), never guessed: a wrong year would move a child's account to the wrong place.
"""

from __future__ import annotations

import re

YEAR_GROUP_MIN = -2
YEAR_GROUP_MAX = 14

_PREFIX = re.compile(r"^(?:year|yr|y|nc\s*year)\s*", re.IGNORECASE)
_NAMED = {"r": 0, "rec": 0, "reception": 0, "n1": -2, "n2": -1, "n": -1, "nursery": -1}


def normalise_year(code: str | None) -> int | None:
    """The year group a free-text code means, or None when it cannot be read with certainty."""
    if code is None:
        return None
    text = " ".join(code.strip().lower().split())
    if not text:
        return None
    if "reception" in text:
        return 0
    if "nursery" in text:
        return -1
    text = _PREFIX.sub("", text, count=1).strip()
    if text in _NAMED:
        return _NAMED[text]
    if re.fullmatch(r"-?\d{1,2}", text):
        value = int(text)
        if YEAR_GROUP_MIN <= value <= YEAR_GROUP_MAX:
            return value
    return None


def year_label(year_group: int | None) -> str:
    """How a year group is written for people: ``N1``, ``N2``, ``R``, ``Year 4``."""
    if year_group is None:
        return "unknown"
    return {-2: "N1", -1: "N2", 0: "R"}.get(year_group, f"Year {year_group}")
