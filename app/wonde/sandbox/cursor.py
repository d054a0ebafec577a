"""Cursor pagination (``cursor=true``): pages keyed on the last record returned, not on a page number.

The first request says ``cursor=true``; its ``next`` link carries ``cursor=<opaque>`` instead of
``page=N``, and the page it leads to starts just after the last record of this one in the list's
order (ids), so a record that leaves or joins earlier in the list between two requests neither
shifts a record out of the walk nor repeats one. The cursor is base64 (URL-safe, unpadded) of
``{"after": [sort key of the last record], "page": N}``: the page number rides along only so fault
rules can still target "page 2" (``gate.py``); clients must treat the whole as opaque. Wonde lists a
``cursor`` parameter but which endpoints honour it, and how, is UNCONFIRMED (docs/wonde-api.md §2);
this is the sandbox's own reading. ``previous`` is always null in cursor mode (forward only).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request

from app.wonde.sandbox.links import link

T = TypeVar("T")
SortKey = tuple[str, ...]

START = "true"


class BadCursor(ValueError):
    """A ``cursor`` value this sandbox did not hand out."""


@dataclass(frozen=True)
class Position:
    after: SortKey | None  # None: the first page
    page: int


def encode(after: SortKey, page: int) -> str:
    text = json.dumps({"after": list(after), "page": page}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(value: str) -> Position:
    """The position a ``cursor`` parameter names: ``true`` is the start, anything else one we made."""
    if value.strip().lower() == START:
        return Position(None, 1)
    try:
        body = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        after, page = body["after"], body["page"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise BadCursor(f"{value[:60]!r} is not a cursor this sandbox gave out") from None
    if not (isinstance(after, list) and all(isinstance(part, str) for part in after)) or not isinstance(page, int):
        raise BadCursor(f"{value[:60]!r} is not a cursor this sandbox gave out")
    return Position(tuple(after), max(page, 1))


def page_number(value: str) -> int:
    """The page a cursor leads to (1 for ``true`` or one that cannot be read), for fault rules."""
    try:
        return decode(value).page
    except BadCursor:
        return 1


def cursor_page(
    request: Request, position: Position, per_page: int, items: Sequence[T], key: Callable[[T], SortKey]
) -> tuple[Sequence[T], dict[str, Any]]:
    """The page after ``position`` in ``items`` (sorted by ``key``) and its ``meta.pagination``."""
    keys = [key(item) for item in items]
    start = 0 if position.after is None else bisect.bisect_right(keys, position.after)
    page = items[start : start + per_page]
    more = start + per_page < len(items)
    following = encode(key(page[-1]), position.page + 1) if more else None
    return page, {
        "next": link(request, drop=("page",), cursor=following) if following else None,
        "previous": None,
        "more": more,
        "per_page": per_page,
        "current_page": position.page,
    }
