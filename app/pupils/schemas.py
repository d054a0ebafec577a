from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.kit.fields import ExternalId, PersonName, YearGroup
from app.kit.schema import InputSchema, Schema


class PupilCreate(InputSchema):
    first_name: PersonName
    last_name: PersonName
    year_group: YearGroup | None = None
    external_id: ExternalId | None = Field(default=None, description="The app's own id for the pupil.")
    band_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class PupilUpdate(InputSchema):
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    year_group: YearGroup | None = None
    external_id: ExternalId | None = None


class Pupil(Schema):
    id: uuid.UUID
    external_id: str | None
    first_name: str
    last_name: str
    year_group: int | None
    username: str
    mis_student_id: uuid.UUID | None
    source: str
    archived_at: datetime | None
    anonymised_at: datetime | None = Field(
        description="When the account was anonymised (left longer ago than the grace period, or erased on request)."
    )
    created_at: datetime
    updated_at: datetime
