"""A response that carries a password is never kept: not in a browser's cache (or its back button), not by
a proxy or a shared cache on the way. Every such response, in every format, says so with these headers."""

from __future__ import annotations

from fastapi import Response

NO_STORE = {"Cache-Control": "no-store"}


def no_store(response: Response) -> None:
    """Mark ``response`` (the one FastAPI sends for an endpoint's return value) as never to be stored."""
    response.headers.update(NO_STORE)
