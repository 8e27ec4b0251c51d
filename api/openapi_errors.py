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

Request bodies a route documents by hand (``openapi_extra``, from ``model_json_schema()``)
carry pydantic's local ``$defs``; `hoist_local_defs` moves them into
``components/schemas`` so every ``$ref`` of the document resolves.
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
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
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
    add_file_formats(spec)
    return spec


#: What ``?format=`` gives on the routes that export rows as a file.
FILE_FORMATS = {
    "text/csv": {"type": "string"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "type": "string",
        "format": "binary",
    },
    "application/vnd.apache.parquet": {"type": "string", "format": "binary"},
}


def add_file_formats(spec: dict[str, Any]) -> dict[str, Any]:
    """Document the file media types of every GET operation with a ``format`` parameter."""
    for operations in spec.get("paths", {}).values():
        op = operations.get("get")
        if not isinstance(op, dict):
            continue
        if not any(
            p.get("name") == "format" and p.get("in") == "query" for p in op.get("parameters", [])
        ):
            continue
        content = op["responses"].setdefault("200", {"description": "OK"}).setdefault("content", {})
        for media_type, schema in FILE_FORMATS.items():
            content.setdefault(media_type, {"schema": schema})
    return spec


_LOCAL = "#/$defs/"
_COMPONENT = "#/components/schemas/"


def hoist_local_defs(spec: dict[str, Any]) -> dict[str, Any]:
    """Move every nested ``$defs`` of ``spec`` into ``components/schemas`` and point each
    ``#/$defs/X`` reference at ``#/components/schemas/X``; in place, and returned."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            for name, schema in (node.pop("$defs", None) or {}).items():
                schemas.setdefault(name, walk(schema))
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_LOCAL):
                node["$ref"] = _COMPONENT + ref[len(_LOCAL) :]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        return node

    walk(spec.get("paths", {}))
    return spec


def install(app: Any) -> None:
    """Make ``app.openapi()`` return the document with these error responses (built once)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_problem_responses(hoist_local_defs(build()))
        return app.openapi_schema

    app.openapi = openapi
