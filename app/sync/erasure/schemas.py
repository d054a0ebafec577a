"""The erasure's HTTP shape."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from app.pupils.schemas import Pupil


class Erased(BaseModel):
    pupil: Pupil = Field(description="The account, anonymised: kept, with its username, and unusable.")
    run_id: uuid.UUID = Field(description="The run that journalled the erasure (it cannot be undone).")
    erased_wonde_id: str | None = Field(
        description="The Wonde student id now on the school's erased list (None for an account with no MIS link)."
    )
