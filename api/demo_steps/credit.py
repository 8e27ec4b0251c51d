"""Demo step owned by CREDIT: a no-op until its owner fills it in."""

from __future__ import annotations

from api.demo_steps import DemoContext


def run(ctx: DemoContext) -> None:
    """Run the credit part of ``datafin demo`` (nothing yet)."""
    return None
