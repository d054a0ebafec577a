from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.kit.schema import Schema


class Run(Schema):
    id: uuid.UUID
    kind: str
    trigger: str
    status: str
    actor: str | None
    counts: dict[str, Any]
    progress: dict[str, Any]
    requests_made: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
