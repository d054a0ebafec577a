"""``utc_now``: the one clock of the service — aware, in UTC, now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.kit.time import pinned, utc_now


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


def test_a_pinned_clock_answers_the_moment_until_the_block_ends() -> None:
    moment = datetime(2026, 9, 1, 7, 30, tzinfo=UTC)
    with pinned(moment) as now:
        assert now == moment
        assert utc_now() == moment
        with pinned(moment + timedelta(days=1)):
            assert utc_now() == moment + timedelta(days=1)
        assert utc_now() == moment
    assert abs(utc_now() - datetime.now(UTC)) < timedelta(seconds=5)  # the real clock again


def test_the_clock_is_pinned_only_to_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="aware"), pinned(datetime(2026, 9, 1, 7, 30)):
        pass
