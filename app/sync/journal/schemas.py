"""The journal's HTTP shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class JournalEntry(BaseModel):
    id: int
    run_id: uuid.UUID | None = Field(
        description="The run that applied or held the change; null for an act of a person outside any run "
        "(an audit entry: a password reset, a rename or creation by hand, a roster import, a settings change, "
        "a download of login details), which is never undone."
    )
    entity_type: str
    entity_id: str
    pupil_id: uuid.UUID | None
    band_id: uuid.UUID | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    status: str
    actor: str | None
    created_at: datetime
    # When the values in before and after that can hold a child's data (names, usernames, year groups)
    # were replaced by null, the retention period being over; their keys, and the ids, stay.
    redacted_at: datetime | None

    model_config = {"from_attributes": True}
