"""Reading request bodies that may come in more than one content type."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from api.errors import InvalidInputError


def content_type(request: Request) -> str:
    """The media type of the request body, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def json_body(request: Request) -> Any:
    """The parsed JSON body; 422 (field ``body``) when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidInputError("The request body is empty; send JSON.", field="body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"The request body is not valid JSON: {exc}.", field="body"
        ) from None
    except RecursionError:
        raise InvalidInputError(
            "The request body is nested too deeply to read.", field="body"
        ) from None


def validate(adapter: TypeAdapter[Any], data: Any) -> Any:
    """Validate `data` with pydantic; failures become the usual 422 problem."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def unsupported(media_type: str, allowed: str) -> HTTPException:
    return HTTPException(
        status_code=415,
        detail=f"The content type {media_type or '(none)'!r} is not supported here; send {allowed}.",
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key (problem+json)."},
    403: {"description": "The key's role may not call this endpoint (problem+json)."},
    404: {"description": "No such object, or another tenant's (problem+json)."},
    422: {"description": "Invalid input; `errors` names each field (problem+json)."},
}
"""OpenAPI ``responses`` shared by the registry routes."""


def int_position(position: dict[str, Any] | None, key: str) -> int | None:
    """The integer `key` of a decoded cursor position; 422 (``cursor``) if absent."""
    if position is None:
        return None
    value = position.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidInputError("The `cursor` does not belong to this list.", field="cursor")
    return value
