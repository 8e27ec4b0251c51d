"""Problem details (RFC 9457, ``application/problem+json``) for every error the API returns.

Routers and services raise exceptions; the handlers installed by `install_handlers`
turn each into a problem document ``{"type", "title", "status", "detail"}`` plus,
for validation failures, ``"errors": [{"field": "...", "message": "..."}]``.

Mapping
-------
- ``HTTPException`` (FastAPI or Starlette: 401, 403, 404, 405, ...) -> its status.
- ``RequestValidationError`` -> 422; ``field`` is the dotted location of the bad
  input without its ``body`` / ``query`` / ``path`` / ``header`` prefix
  (``quality.accuracy``, ``0.month``, ``limit``).
- ``valuation.errors.ValuationError`` -> 422 with ``errors=[{"field": e.field, "message": str(e)}]``.
- `InvalidInputError` -> 422 with the errors it carries (the shell's own input checks:
  a bad CSV row, a bad fingerprint, ...).
- `NotFoundError` -> 404, `ConflictError` -> 409.
- ``sqlalchemy.exc.DataError`` -> 422 (field ``body``): the database refused a value taken
  from the request that the checks before it let through (PostgreSQL: text with a NUL
  character, a number beyond the column's range); the transaction is rolled back.
- ``OverflowError`` (SQLite: an integer beyond 64 bits reached the driver) -> 422.
- anything else -> 500 problem+json, logged with its traceback. A 500 is a bug.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from valuation.errors import ValuationError

logger = logging.getLogger("datafin.api")

PROBLEM_JSON = "application/problem+json"
_LOCATION_PREFIXES = frozenset({"body", "query", "path", "header", "cookie"})


class ApiError(Exception):
    """Base of the shell's own errors; each subclass fixes an HTTP status.

    Parameters
    ----------
    detail : str
        Human-readable explanation, shown as the problem's ``detail``.
    errors : sequence of {"field", "message"}, optional
        Per-field details (validation problems).
    """

    status_code: int = 400

    def __init__(self, detail: str, *, errors: Sequence[Mapping[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = [dict(e) for e in errors] if errors else None


class InvalidInputError(ApiError):
    """Input that passed the schema but breaks a rule (bad CSV row, bad fingerprint): 422."""

    status_code = 422

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if errors is None and field is not None:
            errors = [{"field": field, "message": detail}]
        super().__init__(detail, errors=errors)
        self.field = field


class ForbiddenError(ApiError):
    """The caller is authenticated but may not do this to this object: 403."""

    status_code = 403


class NotFoundError(ApiError):
    """The object does not exist, or exists but is not visible to the caller: 404."""

    status_code = 404


class ConflictError(ApiError):
    """The request conflicts with the current state (duplicate, no capacity left): 409."""

    status_code = 409


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Iterable[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    """Build an ``application/problem+json`` response.

    ``title`` defaults to the standard reason phrase of ``status``.
    """
    if title is None:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = [dict(e) for e in errors]
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def _dotted(loc: Sequence[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in _LOCATION_PREFIXES:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Turn pydantic's error list into ``[{"field", "message"}]``."""
    out = []
    for err in exc.errors():
        out.append(
            {"field": _dotted(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        )
    return out


#: FastAPI's answer to a body it cannot decode (bytes that are not UTF-8 text, say)
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400 and detail == _UNPARSABLE_BODY:
        # the same answer as malformed JSON: a 422 naming the body
        message = "The request body must be JSON text encoded as UTF-8."
        return problem_response(
            422, message, title="Validation failed", errors=[{"field": "body", "message": message}]
        )
    return problem_response(exc.status_code, detail, headers=exc.headers)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        422, f"The request is not valid ({fields}).", title="Validation failed", errors=errors
    )


async def _valuation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValuationError)
    return problem_response(
        422,
        str(exc),
        title="Validation failed",
        errors=[{"field": exc.field, "message": str(exc)}],
    )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    title = "Validation failed" if exc.status_code == 422 else None
    return problem_response(exc.status_code, exc.detail, title=title, errors=exc.errors)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "invalid value"
    logger.warning(
        "database refused a value on %s %s: %s", request.method, request.url.path, reason
    )
    detail = f"The database cannot store a value of this request: {reason}."
    if request.method in ("POST", "PUT", "PATCH"):
        field = "body"
    else:
        field = "path" if "\x00" in request.url.path else "query"
    return problem_response(
        422, detail, title="Validation failed", errors=[{"field": field, "message": detail}]
    )


async def _overflow(request: Request, exc: Exception) -> JSONResponse:
    """SQLite's driver raises OverflowError for an integer beyond 64 bits (an id or a
    number of the request that no check bounded; PostgreSQL answers a DataError)."""
    detail = f"A number of this request is out of range for the database ({exc})."
    field = "body" if request.method in ("POST", "PUT", "PATCH") else "path"
    return problem_response(
        422, detail, title="Validation failed", errors=[{"field": field, "message": detail}]
    )


async def _not_utf8(request: Request, exc: Exception) -> JSONResponse:
    """A string that cannot be encoded as UTF-8: a lone surrogate (``"\\ud800"`` in JSON)
    reached the database or a digest. Nothing was written (the transaction is rolled back)."""
    detail = (
        "A string of this request is not valid Unicode: it holds a lone surrogate "
        "(a `\\ud800`-`\\udfff` escape without its pair). Strings must be valid UTF-8."
    )
    field = "body" if request.method in ("POST", "PUT", "PATCH") else "query"
    return problem_response(
        422, detail, title="Validation failed", errors=[{"field": field, "message": detail}]
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "An internal error occurred; it has been logged.")


def install_handlers(app: FastAPI) -> None:
    """Register every problem+json handler on `app`."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValuationError, _valuation_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(UnicodeEncodeError, _not_utf8)
    app.add_exception_handler(Exception, _unhandled)
