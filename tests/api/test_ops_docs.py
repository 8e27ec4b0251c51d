"""docs/http.md is the OpenAPI document in prose, regenerated and compared here; README
cites no file that is not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from api.docgen import render

ROOT = Path(__file__).resolve().parents[2]


def test_the_http_reference_is_in_step_with_openapi(app) -> None:
    committed = (ROOT / "docs" / "http.md").read_text(encoding="utf-8")
    assert committed == render(app.openapi()), (
        "docs/http.md is stale: run `python -m api.docgen > docs/http.md`"
    )


def test_readme_cites_only_files_of_the_repository() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "the API contract" not in text
    for link in re.findall(r"\]\(([^)#:]+)\)", text):
        assert (ROOT / link).exists(), link
