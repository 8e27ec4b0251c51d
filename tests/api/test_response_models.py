"""Every JSON answer of the API is described by a response model, not an open object."""

from __future__ import annotations


def test_every_json_success_has_a_closed_schema(app) -> None:
    doc = app.openapi()
    open_ended = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code, resp in op.get("responses", {}).items():
                if not code.startswith("2"):
                    continue
                schema = (resp.get("content") or {}).get("application/json", {}).get("schema")
                if schema is None:
                    continue  # a file, an event stream or no body: documented by media type
                if schema in ({}, {"type": "object"}) or schema.get("additionalProperties") is True:
                    open_ended.append(f"{method.upper()} {path} {code}")
    assert open_ended == []
