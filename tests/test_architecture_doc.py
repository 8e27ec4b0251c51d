"""docs/architecture.md names exactly the import contracts that lint-imports enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_architecture_page_names_the_enforced_contracts() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
    page = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"^- \*\*([^*]+)\*\*:", page, flags=re.M))
    assert named == {c["name"] for c in contracts}
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    assert " > ".join(f"`{name}`" for name in layers) in page
    for package in ("valuation", "credit", "products", "risk", "models", "api"):
        assert f"| `{package}/` |" in page
