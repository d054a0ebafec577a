"""Wonde's list conventions: ``include``, ``updated_after``/``updated_before``, and pagination (page
numbers by default, or cursors with ``cursor=true``: ``cursor.py``).

Pagination follows what was captured from the real API: 50 a page by default, ``per_page`` capped
(at 200 here; Wonde's own cap is undocumented); no ``meta.pagination`` at all when the client sent no
``per_page`` and everything fits in one page; otherwise absolute ``next``/``previous`` links that keep
the whole query string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request

from app.wonde.sandbox.cursor import BadCursor, Position, SortKey, cursor_page, decode
from app.wonde.sandbox.links import link

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200

T = TypeVar("T")


class BadQuery(ValueError):
    """A query parameter Wonde would refuse."""


@dataclass(frozen=True)
class ListQuery:
    includes: frozenset[str]
    page: int
    per_page: int | None
    updated_after: datetime | None
    updated_before: datetime | None
    cursor: Position | None = None

    def in_window(self, changed_at: datetime) -> bool:
        """Whether a record changed strictly inside (updated_after, updated_before), to the second: the
        times Wonde shows have no fraction, so a client that sends one back must not see that record again."""
        after, before = self.updated_after, self.updated_before
        changed_at = changed_at.replace(microsecond=0)
        return (after is None or changed_at > after) and (before is None or changed_at < before)


def parse_when(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` (UTC, as Wonde's clients send it) or ISO-8601 (``2026-02-20T10:00:00.000Z``)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadQuery(f"{text!r} is not a date and time (use YYYY-MM-DD HH:MM:SS, UTC)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def list_query(
    include: Annotated[list[str] | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int | None, Query(ge=1)] = None,
    updated_after: Annotated[str | None, Query()] = None,
    updated_before: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> ListQuery:
    """The common list parameters; ``include`` may be comma-separated, repeated, or both."""
    includes = {name.strip() for value in include or [] for name in value.split(",") if name.strip()}
    try:
        position = decode(cursor) if cursor and cursor.strip().lower() != "false" else None
    except BadCursor as exc:
        raise BadQuery(str(exc)) from None
    return ListQuery(
        includes=frozenset(includes),
        page=page,
        per_page=None if per_page is None else min(per_page, MAX_PER_PAGE),
        updated_after=parse_when(updated_after) if updated_after else None,
        updated_before=parse_when(updated_before) if updated_before else None,
        cursor=position,
    )


def _by_id(item: Any) -> SortKey:
    return (str(item.id),)


def paginate(
    request: Request, query: ListQuery, items: Sequence[T], key: Callable[[T], SortKey] = _by_id
) -> tuple[Sequence[T], dict[str, Any] | None]:
    """The page of ``items`` (sorted by ``key``) asked for, and the ``meta.pagination`` block (None when
    Wonde sends none; always there in cursor mode)."""
    if query.cursor is not None:
        return cursor_page(request, query.cursor, query.per_page or DEFAULT_PER_PAGE, items, key)
    if query.per_page is None and query.page == 1 and len(items) <= DEFAULT_PER_PAGE:
        return items, None
    per_page = query.per_page or DEFAULT_PER_PAGE
    start = (query.page - 1) * per_page
    more = start + per_page < len(items)
    return items[start : start + per_page], {
        "next": link(request, page=query.page + 1) if more else None,
        "previous": link(request, page=query.page - 1) if query.page > 1 else None,
        "more": more,
        "per_page": per_page,
        "current_page": query.page,
    }
