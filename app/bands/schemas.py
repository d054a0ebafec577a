from __future__ import annotations

import uuid
from datetime import datetime

from app.kit.fields import BandName, YearGroup
from app.kit.schema import InputSchema, Schema


class BandCreate(InputSchema):
    name: BandName
    year_group: YearGroup | None = None


class BandUpdate(InputSchema):
    name: BandName | None = None
    year_group: YearGroup | None = None


class Band(Schema):
    id: uuid.UUID
    name: str
    year_group: int | None
    mis_class_id: uuid.UUID | None
    mis_group_id: uuid.UUID | None
    source: str
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
