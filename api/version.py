"""The installed ``datafin`` version, read from the distribution's metadata (no imports of
the web app: the CLI's ``--version`` stays instant)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def service_version() -> str:
    """The installed ``datafin`` distribution's version (``0+unknown`` from a source tree
    that was not installed)."""
    try:
        return version("datafin")
    except PackageNotFoundError:
        return "0+unknown"
