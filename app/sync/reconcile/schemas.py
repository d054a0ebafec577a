"""The sync's HTTP shapes: the preview of a sync, a held change, held changes grouped per pupil, and a
decision on many pupils at once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.kit.schema import InputSchema
from app.sync.runs.schemas import Run


class SkippedStudent(BaseModel):
    """A student the admin skipped in the uploader: the sync gives them no account and changes nothing of theirs."""

    wonde_student_id: str
    name: str
    pupil_id: str | None = Field(description="The account they had before the skip, left as it is; null if none.")


class SyncPreview(BaseModel):
    summary: str
    apply: dict[str, int]
    held: dict[str, int]
    held_reasons: list[str]
    erased_on_request: list[str] = Field(
        description="Wonde student ids of children erased on request: the sync leaves them out, gives them no account."
    )
    skipped: list[SkippedStudent] = Field(
        description="Students skipped in the uploader, by name: not synced until the skip is taken back "
        "(DELETE .../uploader/pupils/{wonde_student_id})."
    )


class HeldChange(BaseModel):
    id: int
    entity_type: str
    entity_id: str
    change: dict[str, Any]
    reason: str
    status: str
    created_at: datetime


_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
GROUP_ID_DESCRIPTION = (
    'Whom held changes are about, decided as one: "pupil:<pupil id>" (an account), "student:<Wonde student '
    'id>" (a child whose account a change would make) or "band:<band id>" (a band\'s own changes).'
)
GroupId = Annotated[
    str,
    StringConstraints(pattern=f"^(pupil:{_UUID}|band:{_UUID}|student:[A-Za-z0-9._-]{{1,100}})$"),
    Field(description=GROUP_ID_DESCRIPTION),
]


class HeldGroup(BaseModel):
    """Every held change waiting for one pupil (or one child's new account, or one band's own changes):
    approved or rejected as one, so no decision leaves a pupil half changed."""

    id: str = Field(description=GROUP_ID_DESCRIPTION)
    pupil_id: uuid.UUID | None
    band_id: uuid.UUID | None
    student: str | None = Field(description="The Wonde id of a child with no account yet, whose account would be made.")
    name: str | None = Field(description="The pupil's or band's name; a new child's names.")
    reasons: list[str]
    after_undo: bool = Field(
        description="Held because an undo reverted (some of) them: rejecting keeps them undone, and later syncs "
        "leave them out while the MIS still says the same."
    )
    changes: list[HeldChange]


class HeldDecisionRequest(InputSchema):
    """Pupils (groups of held changes) to approve and to reject, all in one run."""

    approve: list[GroupId] = Field(default_factory=list, max_length=10_000)
    reject: list[GroupId] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _some_once(self) -> HeldDecisionRequest:
        if not self.approve and not self.reject:
            raise ValueError("name at least one group to approve or reject")
        if both := sorted(set(self.approve) & set(self.reject)):
            raise ValueError(f"approved and rejected at once: {', '.join(both[:5])}")
        return self


class HeldDecision(BaseModel):
    run: Run = Field(description="The run the decision is journalled under: one, however many pupils it covers.")
    changes: list[HeldChange] = Field(description="Every held change decided, with its new status.")
