"""The OpenAPI document lists every error as problem+json with the statuses the service gives."""

from __future__ import annotations

import json


def test_every_error_response_is_problem_json(app) -> None:
    spec = app.openapi()
    assert "HTTPValidationError" not in json.dumps(spec)
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    ops = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in item.items()
    ]
    assert len(ops) > 40
    for path, method, op in ops:
        codes = {int(c) for c in op["responses"] if c.isdigit()}
        assert {401, 403, 422, 429} <= codes, (method, path)
        if "{" in path:
            assert 404 in codes, (method, path)
        if "requestBody" in op:
            assert {408, 413} <= codes, (method, path)
        for code, entry in op["responses"].items():
            if code.isdigit() and int(code) >= 400:
                assert list(entry["content"]) == ["application/problem+json"], (method, path, code)


def test_every_reference_in_the_document_resolves(app) -> None:
    """Issue: four operations had ``#/$defs/...`` references that resolve nowhere."""
    spec = app.openapi()
    refs: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            assert "$defs" not in node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"], ref
    body = spec["paths"]["/v1/comparables"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/ComparableIn"}} in body[
        "anyOf"
    ]


def test_the_quote_stream_is_documented_as_server_sent_events(app) -> None:
    ok = app.openapi()["paths"]["/v1/quotes/stream"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]
