"""Typed views of Wonde's JSON, tolerant the way the real API needs.

A property the app has no scope for comes back as ``null`` rather than missing, unknown fields appear
as Wonde adds them, timestamps are PHP DateTime objects (``{"date", "timezone_type", "timezone"}``),
includes are wrapped in ``{"data": ...}``, and year codes are free text typed by each school. These
models accept all of that, and keep only what the product reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from app.year_groups import normalise_year

T = TypeVar("T")


def _parse_datetime(value: Any) -> datetime | None:
    """A Wonde timestamp, in UTC. Accepts the DateTime object, a plain string, or null."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("date")
        if value is None:
            return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    else:
        raise ValueError("not a Wonde timestamp")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_date(value: Any) -> date | None:
    """The calendar date of a Wonde date-only value, taken as written: no time-zone conversion."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("date")
        if value is None:
            return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip()[:10])
    raise ValueError("not a Wonde date")


WondeDateTime = Annotated[datetime | None, BeforeValidator(_parse_datetime)]
WondeDate = Annotated[date | None, BeforeValidator(_parse_date)]


def _text(value: Any) -> Any:
    """Ids and codes arrive as strings, but a number is taken as its text rather than refused."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str | None, BeforeValidator(_text)]
# An id is a key: one with a control character in it is not one Wonde would send, and the database
# would refuse a NUL in it, so it is not an id at all (its record cannot be read, nor quarantined).
Id = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


@dataclass(frozen=True)
class Unreadable:
    """A list item that has a usable id but fields that cannot be read (a year that is not a year, a
    timestamp that is not a time): given to the caller instead of the item, so that one bad record
    does not stop the read. ``fields`` are the names of the fields at fault, never their values."""

    wonde_id: str
    fields: tuple[str, ...]


class WondeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class One(WondeModel, Generic[T]):
    """A "one" include: ``{"data": {...}}`` or ``{"data": null}``."""

    data: T | None = None


class Many(WondeModel, Generic[T]):
    """A "many" include: ``{"data": [...]}``."""

    data: list[T] | None = None


class WondeGroup(WondeModel):
    id: Id
    mis_id: Text = None
    name: Text = None
    code: Text = None
    type: Text = None
    description: Text = None
    updated_at: WondeDateTime = None

    @property
    def display_name(self) -> str:
        return self.name or self.code or self.description or self.id


class WondeClass(WondeModel):
    id: Id
    mis_id: Text = None
    name: Text = None
    code: Text = None
    description: Text = None
    # A plain id when not included, {"data": {...}} when it is.
    subject: str | dict[str, Any] | None = None
    updated_at: WondeDateTime = None
    restored_at: WondeDateTime = None

    @property
    def display_name(self) -> str:
        return self.name or self.code or self.description or self.id

    @property
    def subject_id(self) -> str | None:
        if isinstance(self.subject, dict):
            data = self.subject.get("data")
            return str(data["id"]) if isinstance(data, dict) and data.get("id") else None
        return self.subject


class WondeEducationDetails(WondeModel):
    upn: Text = None
    admission_number: Text = None
    current_nc_year: Text = None
    admission_date: WondeDate = None
    leaving_date: WondeDate = None


class WondeStudent(WondeModel):
    id: Id
    upi: Text = None
    mis_id: Text = None
    forename: Text = None
    surname: Text = None
    middle_names: Text = None
    legal_forename: Text = None
    legal_surname: Text = None
    updated_at: WondeDateTime = None
    restored_at: WondeDateTime = None
    education_details: One[WondeEducationDetails] | None = None
    year: One[WondeGroup] | None = None
    classes: Many[WondeClass] | None = None
    groups: Many[WondeGroup] | None = None

    @property
    def details(self) -> WondeEducationDetails | None:
        return self.education_details.data if self.education_details else None

    def _year_codes(self) -> list[str]:
        """The school's year codes for this student, best first: the NC year when granted, else the
        year group's code or name."""
        details, year = self.details, self.year.data if self.year else None
        codes = [details.current_nc_year if details else None]
        if year is not None:
            codes += [year.code, year.name]
        return [code for code in codes if code]

    @property
    def year_code(self) -> str | None:
        return next(iter(self._year_codes()), None)

    @property
    def year_group(self) -> int | None:
        return next((y for code in self._year_codes() if (y := normalise_year(code)) is not None), None)

    @property
    def class_ids(self) -> list[str]:
        return [c.id for c in (self.classes.data or [])] if self.classes else []

    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in (self.groups.data or [])] if self.groups else []


class WondeDeletion(WondeModel):
    type: Text = None
    id: Id
    mis_id: Text = None
    deleted_at: WondeDateTime = None
    restored_at: WondeDateTime = None


class WondeRegion(WondeModel):
    code: Text = None
    domain: Text = None
    school_url: Text = None


class WondeSchool(WondeModel):
    id: Id
    name: Text = None
    urn: Text = None  # the DfE's unique reference number; Wonde has sent it as a number
    timezone: Text = None
    mis: Text = None
    phase_of_education: Text = None
    region: WondeRegion | None = None


class WondeSchoolMeta(WondeModel):
    online: bool | None = None
    approved: bool | None = None
    audited: bool | None = None


class WondePagination(WondeModel):
    next: str | None = None
    more: bool | None = None
    per_page: int | None = None  # Wonde has sent both 200 and "200"
    current_page: int | None = None


class WondeMeta(WondeModel):
    pagination: WondePagination | None = None


class WondeListPage(WondeModel):
    """One page of a list endpoint; items stay raw until the caller validates them one by one."""

    data: list[dict[str, Any]]
    meta: WondeMeta | None = None


_ID = TypeAdapter(Id)


def usable_id(item: Any) -> str | None:
    """The id of a raw list item, when it has one that can be used as a key."""
    if not isinstance(item, dict):
        return None
    try:
        return _ID.validate_python(item.get("id"))
    except ValidationError:
        return None
