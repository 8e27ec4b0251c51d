"""What every report carries: service and library versions, the time it was drawn."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from api.clock import now as clock_now

LIBRARIES = ("numpy", "scipy", "pandas", "QuantLib", "matplotlib", "weasyprint", "jinja2")


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of `names` (``not installed`` when absent)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def base_context(title: str) -> dict[str, Any]:
    from api.version import service_version

    return {
        "title": title,
        "footer": title,
        "service_version": service_version(),
        "generated_at": clock_now().strftime("%Y-%m-%d %H:%M UTC"),
    }
