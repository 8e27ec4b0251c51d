"""The service's one clock: today's date in UTC.

Every default ``as_of`` of the API and the CLI comes from `today`, read once per request or
command and passed down, so a request that spans midnight still uses one date throughout.
The core packages never read a clock: they take ``as_of`` as an argument.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from models.db import utc_now


def now() -> datetime:
    """The current time, timezone-aware UTC (`models.db.utc_now`, which stamps stored rows)."""
    return utc_now()


def today() -> date:
    """Today's date in UTC."""
    return utc_now().date()


def rfc3339(at: datetime) -> str:
    """``at`` as RFC 3339 in UTC with ``Z`` (a stored time without a zone was written in UTC)."""
    if at.utcoffset() is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
