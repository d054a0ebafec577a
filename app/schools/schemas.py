from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import Field, StringConstraints, field_validator

from app.kit.schema import InputSchema, Schema

SchoolIdStr = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
WondeSchoolIdStr = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,64}$")]


class SchoolCreate(InputSchema):
    id: SchoolIdStr = Field(description="The app's own id for the school, as carried in its tokens.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    timezone: str = Field(
        default="Europe/London", description="IANA time zone; the nightly sync runs in its early morning."
    )
    wonde_school_id: WondeSchoolIdStr | None = Field(
        default=None, description="The school's Wonde id, so that Wonde's approval webhook finds this school."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}")
        return value


class SchoolUpdate(InputSchema):
    """The school's own settings; every field is optional."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    timezone: str | None = None
    leaver_grace_days: int | None = Field(default=None, ge=0, le=3660, description="How long leavers stay restorable.")
    hold_min_pupils: int | None = Field(
        default=None, ge=0, le=100_000, description="Hold removals above this many pupils…"
    )
    hold_fraction: Decimal | None = Field(
        default=None, ge=0, le=1, description="…and above this share of linked pupils."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}")
        return value


class School(Schema):
    id: str
    name: str
    timezone: str
    state: str
    wonde_school_id: str | None
    last_full_read_at: datetime | None
    last_delta_read_at: datetime | None
    migrating_since: datetime | None
    leaver_grace_days: int
    hold_min_pupils: int
    hold_fraction: Decimal
    created_at: datetime
    updated_at: datetime
