"""Column helpers shared by the models."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from sqlalchemy import Dialect, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

from app.year_groups import YEAR_GROUP_MAX, YEAR_GROUP_MIN

UUIDPrimaryKey = Annotated[
    uuid.UUID,
    mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")),
]

YEAR_GROUP_CHECK = f"year_group BETWEEN {YEAR_GROUP_MIN} AND {YEAR_GROUP_MAX}"


E = TypeVar("E", bound=StrEnum)


class StrEnumColumn(TypeDecorator[E], Generic[E]):
    """A ``StrEnum`` kept as its string in a ``VARCHAR`` column (never a PostgreSQL enum type): the
    database holds the same strings as ever, Python reads the enum member back. Values are written as
    given (a plain string is accepted), so the column's CHECK constraint stays the one judge."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:  # noqa: ARG002
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:  # noqa: ARG002
        return None if value is None else self.enum(value)


def in_list(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression restricting a text column to a closed set of values."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"
