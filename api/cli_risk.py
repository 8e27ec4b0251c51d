"""``datafin stress SCENARIO`` (owned by RISK; a placeholder until then).

`api.cli` registers the function `stress` below as the ``stress`` command
(``app.command("stress")(stress)``): keep its name; its parameters are the owner's.
"""

from __future__ import annotations

import typer


def stress(scenario: str = typer.Argument(..., help="Scenario name or JSON file.")) -> None:
    """Run a stress scenario over the book (not available yet)."""
    typer.echo("datafin stress is not available yet.", err=True)
    raise typer.Exit(2)
