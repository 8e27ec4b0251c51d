"""``python -m api.docgen``: the HTTP reference (``docs/http.md``) from the OpenAPI document.

The reference lists every operation by tag: method, path, summary, who may call it (the
roles in its description when stated), the documented status codes, and the parameters.
A test regenerates it and compares with the committed file, so the two never drift; after
changing a route, run ``python -m api.docgen > docs/http.md``.
"""

from __future__ import annotations

import sys
from typing import Any


def _openapi() -> dict[str, Any]:
    import tempfile

    from api.app import create_app
    from models import db

    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{tmp}/docs.db")
        try:
            db.upgrade(engine)
            return create_app(engine=engine).openapi()
        finally:
            engine.dispose()


def render(spec: dict[str, Any]) -> str:
    """Markdown of ``spec`` (deterministic: operations sorted by tag, path and method)."""
    info = spec.get("info", {})
    lines = [
        f"# {info.get('title', 'API')} HTTP reference",
        "",
        "Generated from the OpenAPI document by `python -m api.docgen` (a test keeps it in",
        "step). The live, interactive version is `/docs` (Swagger UI) or `/redoc` on a",
        "running server, and the machine-readable one `/openapi.json`.",
        "",
        "Authentication: `Authorization: Bearer <key>` (keys from `datafin keys create`).",
        "Errors are `application/problem+json` documents (`type`, `title`, `status`,",
        "`detail`, and for validation errors `errors: [{field, message}]`).",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((path, method, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for path, method, op in sorted(by_tag[tag]):
            lines += [f"### `{method.upper()} {path}`", ""]
            if op.get("summary"):
                lines += [op["summary"] + ".", ""]
            params = [p for p in op.get("parameters", []) if isinstance(p, dict)]
            if params:
                cells = ", ".join(
                    f"`{p['name']}` ({p.get('in')}{', required' if p.get('required') else ''})"
                    for p in params
                )
                lines += [f"Parameters: {cells}.", ""]
            body = op.get("requestBody", {}).get("content", {})
            if body:
                lines += ["Body: " + ", ".join(f"`{ct}`" for ct in sorted(body)) + ".", ""]
            lines.append("Responses:")
            for code in sorted(op.get("responses", {})):
                text = (op["responses"][code].get("description") or "").strip()
                first = text.splitlines()[0].rstrip(".") if text else ""
                lines.append(f"- `{code}` {first}".rstrip())
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    sys.stdout.write(render(_openapi()))


if __name__ == "__main__":
    main()
