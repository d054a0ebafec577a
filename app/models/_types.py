"""Column helpers shared by the models."""

from __future__ import annotations

import uuid
from typing import Annotated

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import mapped_column

from app.year_groups import YEAR_GROUP_MAX, YEAR_GROUP_MIN

UUIDPrimaryKey = Annotated[
    uuid.UUID,
    mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")),
]

YEAR_GROUP_CHECK = f"year_group BETWEEN {YEAR_GROUP_MIN} AND {YEAR_GROUP_MAX}"


def in_list(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression restricting a text column to a closed set of values."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"
