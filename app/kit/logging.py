"""Structured JSON logs, one object per line, carrying the request id when there is one.

Children's names and tokens never go into a log message: log ids and counts instead.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from app.kit.log_context import run_id_var, school_id_var
from app.kit.request_id import request_id_var

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_CONTEXT = (("request_id", request_id_var), ("school_id", school_id_var), ("run_id", run_id_var))
_plain_factory = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record is stamped, when it is made, with the request, school and run it belongs to."""
    record = _plain_factory(*args, **kwargs)
    for name, var in _CONTEXT:
        if (value := var.get()) is not None:
            setattr(record, name, value)
    return record


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.setLogRecordFactory(_record_with_context)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # arq's command line installs its own plain-text handler; one format, once, is enough.
    logging.getLogger("arq").handlers.clear()
