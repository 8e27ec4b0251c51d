"""``datafin value ASSET_ID`` (owned by VALUATION; a placeholder until then).

`api.cli` registers the function `value` below as the ``value`` command
(``app.command("value")(value)``): keep its name; its parameters are the owner's.
"""

from __future__ import annotations

import typer


def value(asset_id: str = typer.Argument(..., help="Id of the registered asset to value.")) -> None:
    """Value a registered data asset (not available yet)."""
    typer.echo("datafin value is not available yet.", err=True)
    raise typer.Exit(2)
