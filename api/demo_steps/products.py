"""Demo step owned by PRODUCTS: a no-op until its owner fills it in."""

from __future__ import annotations

from api.demo_steps import DemoContext


def run(ctx: DemoContext) -> None:
    """Run the products part of ``datafin demo`` (nothing yet)."""
    return None
