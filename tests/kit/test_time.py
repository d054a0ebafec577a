"""``utc_now``: the one clock of the service — aware, in UTC, now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.kit.time import utc_now


def test_utc_now_is_aware_utc_and_now() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_utc_now_moves_forward() -> None:
    first = utc_now()
    assert utc_now() >= first
