from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import Field, StringConstraints, field_validator

from app.kit.schema import InputSchema, Schema

SchoolIdStr = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
WondeSchoolIdStr = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,64}$")]
# The DfE's identifiers, as Get Information about Schools gives them: the URN is six digits today
# (room is left for the range to grow), the LA code three and the establishment number four.
UrnStr = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{5,7}$")]
LaCodeStr = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}$")]
EstablishmentNumberStr = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]

# Who the school is, as against how it syncs: only the platform sets these.
IDENTITY_FIELDS = frozenset({"urn", "la_code", "establishment_number", "wonde_school_id"})


class SchoolCreate(InputSchema):
    """A school registered by the platform, with the DfE URN Wonde's approval must match."""

    id: SchoolIdStr = Field(description="The app's own id for the school, as carried in its tokens.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    timezone: str = Field(
        default="Europe/London", description="IANA time zone; the nightly sync runs in its early morning."
    )
    urn: UrnStr = Field(description="The school's DfE unique reference number; Wonde's approval must carry it.")
    la_code: LaCodeStr | None = Field(default=None, description="The DfE local authority code.")
    establishment_number: EstablishmentNumberStr | None = Field(
        default=None, description="The DfE establishment number."
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
    """The school's settings (its admins') or its identity (the platform's); every field is optional."""

    urn: UrnStr | None = Field(default=None, description="Platform only.")
    la_code: LaCodeStr | None = Field(default=None, description="Platform only.")
    establishment_number: EstablishmentNumberStr | None = Field(default=None, description="Platform only.")
    wonde_school_id: WondeSchoolIdStr | None = Field(
        default=None, description="Platform only; refused while the school holds a Wonde approval."
    )
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
    urn: str | None
    la_code: str | None
    establishment_number: str | None
    wonde_school_id: str | None
    wonde_urn: str | None = Field(
        description="The URN of the Wonde school whose approval waits for the platform's confirmation."
    )
    last_full_read_at: datetime | None
    last_delta_read_at: datetime | None
    migrating_since: datetime | None
    leaver_grace_days: int
    hold_min_pupils: int
    hold_fraction: Decimal
    created_at: datetime
    updated_at: datetime
