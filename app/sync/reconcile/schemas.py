"""The sync's HTTP shapes: the preview of a sync, and a held change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class SyncPreview(BaseModel):
    summary: str
    apply: dict[str, int]
    held: dict[str, int]
    held_reasons: list[str]
    erased_on_request: list[str] = Field(
        description="Wonde student ids of children erased on request: the sync leaves them out, gives them no account."
    )


class HeldChange(BaseModel):
    id: int
    entity_type: str
    entity_id: str
    change: dict[str, Any]
    reason: str
    status: str
    created_at: datetime
