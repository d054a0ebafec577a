"""The service's one clock. Everything that needs "now" asks ``utc_now()``, so a test can pin it with
``pinned(moment)`` and never depend on the date it happens to run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_pinned: datetime | None = None


def utc_now() -> datetime:
    return _pinned if _pinned is not None else datetime.now(UTC)


@contextmanager
def pinned(moment: datetime) -> Iterator[datetime]:
    """For tests: ``utc_now()`` returns ``moment`` until the block ends, in every task and thread of the
    process (the app and an in-process worker see the same clock)."""
    global _pinned
    if moment.tzinfo is None:
        raise ValueError("pin the clock to an aware datetime (UTC)")
    before, _pinned = _pinned, moment.astimezone(UTC)
    try:
        yield _pinned
    finally:
        _pinned = before
