"""A short-lived cache of the answer of ``GET /v1/quotes/{asset_id}`` (the API's hot read).

The latest public quote of an asset is the same for every caller and changes only when the
asset's owner publishes a new valuation. Each server process keeps the serialised answer
for ``QUOTE_CACHE_SECONDS`` (default 1 s; 0 turns the cache off), so a burst of reads of
one quote costs one database query per second instead of one per request.

Invalidation. Publishing a quote (`api.services.valuation.create_valuation`) drops the
asset's entry from every cache of the publishing process when its transaction commits, so
that process answers with the new quote at once; another server process (``datafin serve
--workers N``, the CLI) may answer with the previous quote for at most the TTL. Errors
(an unknown asset, an asset not yet valued) are never cached.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

DEFAULT_TTL_S = 1.0


class QuoteCache:
    """Asset id -> (serialised quote, expiry on the monotonic clock)."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = 100_000) -> None:
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self._entries: dict[int, tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, asset_id: int) -> bytes | None:
        entry = self._entries.get(asset_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, asset_id: int, body: bytes) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[asset_id] = (body, time.monotonic() + self.ttl_s)

    def invalidate(self, asset_id: int | None = None) -> None:
        """Drop ``asset_id``'s entry (every entry when None)."""
        with self._lock:
            if asset_id is None:
                self._entries.clear()
            else:
                self._entries.pop(int(asset_id), None)


_CACHES: weakref.WeakSet[QuoteCache] = weakref.WeakSet()


def invalidate(asset_id: int | None = None) -> None:
    """Drop ``asset_id`` (every asset when None) from every quote cache of this process."""
    for cache in list(_CACHES):
        cache.invalidate(asset_id)


def for_app(app: Any) -> QuoteCache:
    """The app's cache (``app.state.quote_cache``), created on first use."""
    cache = getattr(app.state, "quote_cache", None)
    if cache is None:
        settings = getattr(app.state, "settings", None)
        cache = QuoteCache(getattr(settings, "quote_cache_seconds", DEFAULT_TTL_S))
        app.state.quote_cache = cache
    return cache
