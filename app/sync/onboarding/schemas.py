from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.kit.schema import InputSchema


class Suggestion(BaseModel):
    band_id: str
    band_name: str | None
    status: Literal["auto", "review"]
    score: float
    evidence: list[str]


class Decision(BaseModel):
    action: str | None
    band_id: str | None


class UploaderClass(BaseModel):
    wonde_class_id: str
    name: str
    kind: Literal["class", "group"]
    year_group: int | None
    pupil_count: int
    decision: Decision | None
    linked_band_id: str | None
    suggestion: Suggestion | None


class ClassDecisionIn(InputSchema):
    action: Literal["no_action", "match", "import"]
    band_id: uuid.UUID | None = None


class StudentResolutionIn(InputSchema):
    resolution: Literal["link", "create", "skip"]
    pupil_id: uuid.UUID | None = None


class DecisionOut(BaseModel):
    id: uuid.UUID
    action: str | None = None
    band_id: uuid.UUID | None = None
    resolution: str | None = None
    pupil_id: uuid.UUID | None = None

    model_config = {"from_attributes": True}


class IssueCandidate(BaseModel):
    pupil_id: str
    name: str | None
    score: float
    evidence: list[str]


class StudentIssue(BaseModel):
    wonde_student_id: str
    name: str
    year_group: int | None
    candidates: list[IssueCandidate]
    resolution: str | None
    merge_will: str


class PupilIssue(BaseModel):
    band_id: str
    pupil_id: str
    merge_will: str


class Issues(BaseModel):
    students: list[StudentIssue]
    unmatched_pupils: list[PupilIssue]
    unresolved: int


class Warning(BaseModel):
    band_id: str
    band_name: str
    pupils_leaving: int
    message: str


class Preview(BaseModel):
    counts: dict[str, int]
    unresolved: int
    bands_to_create: list[dict[str, str]]
    bands_to_link: list[dict[str, str]]
    pupils_to_link: list[dict[str, str]]
    accounts_to_create: list[dict[str, str]]
    memberships_to_add: int
    memberships_to_remove: int
    warnings: list[Warning] = Field(description="Bands the merge would empty of pupils the MIS has elsewhere.")
    erased_on_request: list[str] = Field(
        description="Wonde student ids of children erased on request: left out of the merge, given no account."
    )
