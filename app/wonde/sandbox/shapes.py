"""Records to Wonde's JSON and back: PHP DateTime objects, string ids, includes wrapped in ``data``.

The API, the dump writer and the dump reader all go through here, so a generated dump is exactly
what the API would answer, and a real Wonde export reads back the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from app.wonde.sandbox.records import Deletion, Group, MisClass, SandboxSchool, Student
from app.wonde.sandbox.state import DEFAULT_DOMAIN

STUDENT_INCLUDES = ("classes", "education_details", "groups", "year")
_WONDE_TIME = "%Y-%m-%d %H:%M:%S.000000"  # Wonde keeps whole seconds; the fraction is always zero

Json = dict[str, Any]


def wonde_time(value: datetime | None) -> Json | None:
    """A UTC time as Wonde writes it: ``{"date": "2024-09-02 08:36:08.000000", ...}``."""
    if value is None:
        return None
    return {"date": value.astimezone(UTC).strftime(_WONDE_TIME), "timezone_type": 3, "timezone": "UTC"}


def wonde_date(value: date | None) -> Json | None:
    """A calendar date (admission, leaving) as Wonde writes it: midnight, school-local."""
    if value is None:
        return None
    return {"date": f"{value.isoformat()} 00:00:00.000000", "timezone_type": 3, "timezone": "Europe/London"}


def read_time(value: Any) -> datetime | None:
    """A Wonde DateTime object (or a bare date string) as an aware UTC datetime; None when absent."""
    text = value.get("date") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text.strip():
        return None
    parsed = datetime.fromisoformat(text.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_date(value: Any) -> date | None:
    """Only the ``YYYY-MM-DD`` part: a local calendar date must not be moved across timezones."""
    text = value.get("date") if isinstance(value, dict) else value
    if not isinstance(text, str) or len(text) < 10:
        return None
    return date.fromisoformat(text[:10])


def school_json(school: SandboxSchool, domain: str, scheme: str | None = None) -> Json:
    """The school object, with ``region`` pointing at whichever server is serving it (over ``scheme``:
    by default https for Wonde's own domain and http for the sandbox's)."""
    info = dict(school.info)
    region = dict(info.get("region") or {})
    scheme = scheme or ("https" if domain == DEFAULT_DOMAIN else "http")
    region.update(domain=domain, school_url=f"{scheme}://{domain}/v1.0/schools/{school.id}")
    info["region"] = region
    return info


def class_json(record: MisClass) -> Json:
    return {
        "id": record.id,
        "mis_id": record.mis_id,
        "name": record.name,
        "code": record.code,
        "description": record.description,
        "subject": record.subject,
        "alternative": record.alternative,
        "restored_at": wonde_time(record.restored_at),
        "created_at": wonde_time(record.created_at),
        "updated_at": wonde_time(record.updated_at),
    }


def group_json(record: Group) -> Json:
    return {
        "id": record.id,
        "mis_id": record.mis_id,
        "name": record.name,
        "code": record.code,
        "type": record.type,
        "description": record.description,
        "created_at": wonde_time(record.created_at),
        "updated_at": wonde_time(record.updated_at),
    }


def deletion_json(record: Deletion) -> Json:
    return {
        "type": record.type,
        "id": record.id,
        "mis_id": record.mis_id,
        "deleted_at": wonde_time(record.deleted_at),
        "restored_at": wonde_time(record.restored_at),
    }


def education_json(record: Student) -> Json:
    return {
        "admission_number": record.admission_number,
        "upn": record.upn,
        "local_upn": record.local_upn,
        "former_upn": record.former_upn,
        "learner_number": record.learner_number,
        "current_nc_year": record.nc_year,
        "part_time": record.part_time,
        "admission_date": wonde_date(record.admission_date),
        "leaving_date": wonde_date(record.leaving_date),
    }


class _Person(Protocol):
    """What a student and an employee both have (read only)."""

    @property
    def id(self) -> str: ...

    @property
    def upi(self) -> str | None: ...

    @property
    def mis_id(self) -> str | None: ...

    @property
    def initials(self) -> str | None: ...

    @property
    def title(self) -> str | None: ...

    @property
    def surname(self) -> str | None: ...

    @property
    def forename(self) -> str | None: ...

    @property
    def middle_names(self) -> str | None: ...

    @property
    def legal_surname(self) -> str | None: ...

    @property
    def legal_forename(self) -> str | None: ...

    @property
    def restored_at(self) -> datetime | None: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def updated_at(self) -> datetime: ...


def person_json(record: _Person, personal: tuple[str | None, date | None] = (None, None)) -> Json:
    """The fields Wonde shows for a person, a student or an employee alike; ``personal`` is the gender
    and date of birth, shown only where the school grants them (null otherwise, as Wonde shows them)."""
    gender, born = personal
    return {
        "id": record.id,
        "upi": record.upi,
        "mis_id": record.mis_id,
        "initials": record.initials,
        "title": record.title,
        "surname": record.surname,
        "forename": record.forename,
        "middle_names": record.middle_names,
        "legal_surname": record.legal_surname,
        "legal_forename": record.legal_forename,
        "gender": gender,
        "date_of_birth": wonde_date(born),
        "restored_at": wonde_time(record.restored_at),
        "created_at": wonde_time(record.created_at),
        "updated_at": wonde_time(record.updated_at),
    }


def student_json(school: SandboxSchool, record: Student, includes: Iterable[str] = ()) -> Json:
    """A student; ``includes`` may name any of STUDENT_INCLUDES (others are ignored, as unknown ones are)."""
    granted = (record.gender, record.date_of_birth) if school.personal_details else (None, None)
    body = person_json(record, granted)
    wanted = set(includes)
    if "education_details" in wanted:
        body["education_details"] = {"data": education_json(record)}
    if "classes" in wanted:
        classes = sorted(school.class_links.owners_of(record.id))
        body["classes"] = {"data": [class_json(school.classes[class_id]) for class_id in classes]}
    groups = [school.groups[group_id] for group_id in sorted(school.group_links.owners_of(record.id))]
    if "groups" in wanted:
        body["groups"] = {"data": [group_json(group) for group in groups]}
    if "year" in wanted:
        year = next((group for group in groups if group.type == "YEAR"), None)
        body["year"] = {"data": group_json(year) if year else None}
    return body
