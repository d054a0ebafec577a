"""Field types shared by request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.year_groups import YEAR_GROUP_MAX, YEAR_GROUP_MIN

PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
BandName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
YearGroup = Annotated[
    int,
    Field(ge=YEAR_GROUP_MIN, le=YEAR_GROUP_MAX, description="N1 = -2, N2 = -1, Reception = 0, then Years 1 to 14."),
]
