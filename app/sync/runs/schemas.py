from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.kit.schema import Schema
from app.sync.runs.failures import FailureCode

FAILURE_CODE_DESCRIPTION = (
    "Why the run failed, when it did (null otherwise): one of "
    + ", ".join(f"`{code}`" for code in FailureCode)
    + ". `error` is that code's sentence for the school's admin, with safe details (ids, counts, statuses)."
)


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
    failure_code: str | None = Field(description=FAILURE_CODE_DESCRIPTION)
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
