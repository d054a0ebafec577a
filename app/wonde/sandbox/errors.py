"""Every error the sandbox answers has one body: ``{"error": code, "error_description": text}``.

The sandbox's own refusals (401, 404, 422, and the faults' 429/500/401) already use it
(``gate.error_response``); these handlers give FastAPI's and Starlette's own errors the same shape
instead of ``{"detail": ...}``: an unknown path (404), a wrong method (405, keeping ``Allow``), a query
or body that does not validate (422), and the admin routes' ``HTTPException``. Wonde's own error body
is UNCONFIRMED (docs/wonde-api.md §5), so clients must not rely on more than the status.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.wonde.sandbox.gate import error_response

ERROR_CODES = {
    400: "invalid_request",
    401: "access_denied",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    422: "invalid_parameter",
    429: "too_many_requests",
    500: "server_error",
}


def error_code(status: int) -> str:
    return ERROR_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_")


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    description = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, error_code(exc.status_code), description, dict(exc.headers or {}))


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(part) for part in error.get('loc', ()) if part not in ('query', 'body', 'path'))}: "
        f"{error.get('msg', 'invalid')}"
        for error in exc.errors()
    ]
    return error_response(422, error_code(422), "; ".join(problems) or "invalid request")


def install_error_handlers(app: FastAPI) -> None:
    """Answer FastAPI's own errors in the sandbox's error shape."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
