"""Log lines name the school and run they are about, taken from context, not passed by each caller."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from app.kit.log_context import log_context
from app.kit.logging import JsonFormatter, configure_logging


@pytest.fixture
def context_logging() -> Iterator[None]:
    root = logging.getLogger()
    factory, handlers, level = logging.getLogRecordFactory(), list(root.handlers), root.level
    configure_logging("INFO")
    yield
    logging.setLogRecordFactory(factory)
    root.handlers[:], root.level = handlers, level


def _line(**extra: object) -> dict[str, object]:
    logger = logging.getLogger("bandsync.test")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "hello", (), None, extra=extra or None)
    return dict(json.loads(JsonFormatter().format(record)))


def test_lines_carry_the_school_and_run_in_context(context_logging: None) -> None:
    with log_context(school_id="school-1"):
        with log_context(run_id="run-9"):
            inside = _line(counted=3)
        after_run = _line()
    outside = _line()

    assert (inside["school_id"], inside["run_id"], inside["counted"]) == ("school-1", "run-9", 3)
    assert after_run["school_id"] == "school-1" and "run_id" not in after_run
    assert "school_id" not in outside and "run_id" not in outside
