from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class LoginDetail(BaseModel):
    pupil_id: uuid.UUID
    first_name: str
    last_name: str
    band: str | None = Field(
        description="The class (band) the details are given under: the band asked for with band_id, else the "
        "pupil's first band by name; null for a pupil in no band."
    )
    username: str
    password: str


class LoginDetailsConfirmation(BaseModel):
    run_id: uuid.UUID
    confirmed: int = Field(
        description="How many passwords this confirmation cleared: 0 when the run's login details were confirmed "
        "already, have expired, or were never issued."
    )
    confirmed_at: datetime | None = Field(
        description="When the run's login details were confirmed (by this request or an earlier one); null when "
        "none ever were."
    )
