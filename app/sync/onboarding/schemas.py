from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

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


class Ref(BaseModel):
    id: str
    name: str


ClassAction = Literal["no_action", "match", "import"]


class UploaderClass(BaseModel):
    """One row per MIS class: a primary's registration group and the class of the same name are one row
    (the class's, with the group in ``registration_group``); a registration group with no class of its
    name is a row of its own (``kind`` "group")."""

    wonde_class_id: str = Field(description="The row's id: the class's Wonde id (the group's for a group row).")
    name: str
    kind: Literal["class", "group"]
    year_group: int | None
    pupil_count: int
    registration_group: Ref | None = Field(
        description="The registration group of the same name, folded into this row: a decision on the row is "
        "one decision for both, and a PUT or DELETE naming the group's id acts on this row."
    )
    suggested_action: ClassAction = Field(
        description='What bandsync suggests: "match" (with suggested_band: the band following it already, else '
        'the matcher\'s best), "import" (a class with pupils and no band), or "no_action". Sent back as they are '
        "in PUT .../uploader/decisions, they accept every suggestion."
    )
    suggested_band: Ref | None
    decision: Decision | None
    linked_band_id: str | None
    suggestion: Suggestion | None


class _BandOnlyForMatch(InputSchema):
    """``band_id`` names the band of a "match"; with any other action it is refused, not dropped."""

    @field_validator("band_id", check_fields=False)
    @classmethod
    def _band_only_for_match(cls, band_id: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        action = info.data.get("action")
        if band_id is not None and action != "match":
            raise ValueError(
                f'band_id is only for "match"; leave it out with {action!r}'
                if action
                else 'band_id is only for "match"; leave it out to clear the decision'
            )
        return band_id


class ClassDecisionIn(_BandOnlyForMatch):
    action: ClassAction
    band_id: uuid.UUID | None = None


class ClassDecisionItem(_BandOnlyForMatch):
    wonde_class_id: str = Field(min_length=1, max_length=64)
    action: ClassAction | None = Field(description="null clears the class's decision: the class is undecided again.")
    band_id: uuid.UUID | None = None


class ClassDecisionsIn(InputSchema):
    """Decisions about many MIS classes, validated as a whole and applied in one transaction."""

    decisions: list[ClassDecisionItem] = Field(min_length=1, max_length=5_000)


class ClassDecisionOut(BaseModel):
    wonde_class_id: str = Field(description="The row's id (the class's, where a folded group's id was given).")
    action: ClassAction | None
    band_id: uuid.UUID | None


class ClassStudent(BaseModel):
    wonde_student_id: str
    forename: str
    surname: str
    year_group: int | None
    account: Ref | None = Field(description="The app account linked to this MIS student, if any.")


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
