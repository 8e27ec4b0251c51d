"""The OpenAPI document lists every error as problem+json with the statuses the service gives."""

from __future__ import annotations

import json


def test_every_error_response_is_problem_json(app) -> None:
    spec = app.openapi()
    assert "HTTPValidationError" not in json.dumps(spec)
    assert spec["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    ops = [(path, method, op) for path, item in spec["paths"].items() if path.startswith("/v1/")
           for method, op in item.items()]
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
