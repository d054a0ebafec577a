from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, computed_field

from app.kit.schema import Schema
from app.sync.runs.failures import FailureCode

FAILURE_CODE_DESCRIPTION = (
    "Why the run failed, when it did (null otherwise): one of "
    + ", ".join(f"`{code}`" for code in FailureCode)
    + ". `error` is that code's sentence for the school's admin, with safe details (ids, counts, statuses)."
)

# An undo's count of the changes it reverted that the next sync would make again: it holds them instead,
# for the admin to decide (``app.sync.core.undone``).
HELD_AT_NEXT_SYNC = "held_at_next_sync"


def notice_of(counts: dict[str, Any]) -> str | None:
    """What the admin should know next about a run, in words; None when there is nothing."""
    held = counts.get(HELD_AT_NEXT_SYNC)
    if not held:
        return None
    if held == 1:
        return "1 change this undo reverted will wait for your decision if the next sync would make it again."
    return f"{held} changes this undo reverted will wait for your decision if the next sync would make them again."


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

    @computed_field(  # type: ignore[prop-decorator]
        description="What the admin should know next, in words (null when nothing): after an undo, how many of the "
        "changes it reverted the next sync will hold for a decision instead of making them again."
    )
    @property
    def notice(self) -> str | None:
        return notice_of(self.counts)


class RunDetail(Run):
    """A run, with what waits on it for the admin."""

    credentials_waiting: int = Field(
        description="How many login details of this run wait to be handed out: downloadable (GET "
        ".../runs/{run_id}/credentials) until the admin confirms them (POST .../credentials/confirm) or they "
        "expire. 0 for a run that gave no one a password."
    )

    @classmethod
    def of(cls, run: Any, credentials_waiting: int) -> RunDetail:
        return cls(**Run.model_validate(run).model_dump(exclude={"notice"}), credentials_waiting=credentials_waiting)
