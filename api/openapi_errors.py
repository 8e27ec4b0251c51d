"""Error responses in the OpenAPI document as the service really answers them.

Every error of the service is ``application/problem+json`` (`api.errors`). FastAPI's own
document lists its default 422 body (``HTTPValidationError``) and only the statuses a route
declares. This fills in, for every ``/v1`` operation, the statuses the request guard and
the handlers can give it, each with the `Problem` schema:

* 401 (no valid key) and 429 (rate limits) on every operation, 403 (role) on every one;
* 422 (invalid input; ``errors`` names each field) on every operation;
* 404 on operations with a path parameter (no such object, or another tenant's);
* 408 and 413 on operations with a request body (a body that stops arriving, too large);
* 409 on operations that write (a conflict with the current state: pledge capacity, a
  reused idempotency key, a duplicate).

Statuses a route declares itself (409, 202, ...) keep their descriptions and get the schema.
"""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details, the body of every error.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}

DESCRIPTIONS = {
    401: "No valid API key.",
    403: "The key's role may not call this endpoint, or may not act on this object.",
    404: "No such object, or another tenant's.",
    408: "The request body stopped arriving.",
    409: "The request conflicts with the current state.",
    413: "The request body is above the limit for this route.",
    422: "Invalid input; `errors` names each field.",
    429: "Rate limit reached; retry after `Retry-After` seconds.",
}


def _content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def add_problem_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``spec`` in place (and return it) as described in the module docstring."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            statuses = {401, 403, 422, 429}
            if method in ("post", "put", "patch", "delete"):
                statuses.add(409)
            if "{" in path:
                statuses.add(404)
            if "requestBody" in op:
                statuses |= {408, 413}
            responses = op["responses"]
            for code in sorted(statuses):
                entry = responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
                entry["content"] = _content()
            for code, entry in responses.items():
                if code.isdigit() and int(code) >= 400:
                    entry.setdefault("description", DESCRIPTIONS.get(int(code), "Error."))
                    entry["content"] = _content()
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return spec


def install(app: Any) -> None:
    """Make ``app.openapi()`` return the document with these error responses (built once)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_problem_responses(build())
        return app.openapi_schema

    app.openapi = openapi
