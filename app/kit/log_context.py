"""The school and run a log line is about, carried in context variables so every line a request or a
job writes names them without each call passing them along."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

school_id_var: ContextVar[str | None] = ContextVar("school_id", default=None)
run_id_var: ContextVar[str | None] = ContextVar("run_id", default=None)


@contextmanager
def log_context(*, school_id: str | None = None, run_id: str | None = None) -> Iterator[None]:
    tokens = []
    if school_id is not None:
        tokens.append((school_id_var, school_id_var.set(school_id)))
    if run_id is not None:
        tokens.append((run_id_var, run_id_var.set(run_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
