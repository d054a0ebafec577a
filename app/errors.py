"""One error hierarchy, mapped to ``{"error": Name, "detail": ...}`` by one set of handlers.

Payload validation stays FastAPI's (422), reshaped into the same body. There is no catch-all: an
unexpected exception is a 500 and a bug, logged with its request id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorResponse(BaseModel):
    """The body of every 4xx answer: a stable error name and a detail for people."""

    error: str
    detail: Any


class AppError(Exception):
    status_code = 400
    headers: ClassVar[dict[str, str] | None] = None

    def __init__(self, detail: Any = None) -> None:
        self.detail = detail if detail is not None else self.default_detail()
        super().__init__(self.detail)

    @property
    def error(self) -> str:
        return type(self).__name__

    def default_detail(self) -> str:
        return (self.__doc__ or self.error).strip().splitlines()[0]


class NotAuthenticated(AppError):
    """A valid bearer token is required."""

    status_code = 401
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    """Your role does not allow this action."""

    status_code = 403


class NotFound(AppError):
    """Not found."""

    status_code = 404


class SchoolNotFound(NotFound):
    """School not found."""


class BandNotFound(NotFound):
    """Band not found."""


class PupilNotFound(NotFound):
    """Pupil not found."""


class Conflict(AppError):
    """The request conflicts with the current state."""

    status_code = 409


class SchoolAlreadyExists(Conflict):
    """A school with this id already exists."""


class PayloadTooLarge(AppError):
    """The request body is too large."""

    status_code = 413


class UnsupportedMediaType(AppError):
    """Unsupported content type."""

    status_code = 415


class InvalidInput(AppError):
    """The request is not valid."""

    status_code = 422


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of an endpoint that can raise these errors."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        responses[error.status_code] = {"model": ErrorResponse, "description": error().default_detail()}
    return responses


def _body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": jsonable_encoder(detail)}


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(_body(exc.error, exc.detail), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return JSONResponse(_body("ValidationError", detail), status_code=422)


_HTTP_ERROR_NAMES = {404: "NotFound", 405: "MethodNotAllowed", 401: "NotAuthenticated", 403: "Forbidden"}


# FastAPI answers 400 with this detail when a body cannot even be decoded (bytes that are not UTF-8);
# that is a payload error like malformed JSON, so it gets the same documented 422 answer.
_UNPARSEABLE_BODY = "There was an error parsing the body"


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
        detail = [{"loc": ["body"], "msg": "the body cannot be decoded as JSON text", "type": "json_invalid"}]
        return JSONResponse(_body("ValidationError", detail), status_code=422)
    name = _HTTP_ERROR_NAMES.get(exc.status_code, "HTTPError")
    return JSONResponse(_body(name, exc.detail), status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
