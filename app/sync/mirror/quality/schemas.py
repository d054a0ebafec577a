"""The data-quality list's HTTP shapes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.sync.mirror.quality.codes import IssueCode, Record


class DataQualityIssue(BaseModel):
    code: IssueCode
    record: Record = Field(description="What kind of MIS record this is about.")
    wonde_id: str = Field(description="The record's id in Wonde (and so in the MIS read through it).")
    name: str | None = Field(description="The student's or class's name, where the mirror has it.")
    class_name: str | None = Field(
        description="The class or registration group the issue was found in (shared_name_in_class)."
    )
    fields: list[str] = Field(
        description="The fields of the record at fault, by their Wonde names (quarantined and cleaned records)."
    )
    sentence: str = Field(description="What the school admin should fix in their MIS, in one sentence.")

    model_config = {"from_attributes": True}
