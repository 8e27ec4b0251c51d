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

One load per expiry. When an entry expires under load, every request in flight misses at
the same moment; `QuoteCache.get_or_load` lets the first of them read the database and the
others await that same read (single flight), so an expiry costs one query, not one per
waiting connection. That herd of reads on worker threads, each holding the GIL, was what
set the hot read's p99 (about 36 ms against 16 ms with no expiry, on two cores). A load
that started before an invalidation does not store its (older) answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_TTL_S = 1.0


class QuoteCache:
    """Asset id -> (serialised quote, expiry on the monotonic clock)."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = 100_000) -> None:
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self._entries: dict[int, tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        #: loads in flight, by asset (touched on the event loop only)
        self._loading: dict[int, asyncio.Future[bytes]] = {}
        #: bumped by every invalidation: a load that saw another value stores nothing
        self._generation = 0
        _CACHES.add(self)

    def get(self, asset_id: int) -> bytes | None:
        entry = self._entries.get(asset_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    async def get_or_load(self, asset_id: int, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached answer, or the result of ``load()``, awaited by every concurrent
        caller that missed the same asset (one database read per expiry). An error of the
        load reaches every waiter and is not cached."""
        body = self.get(asset_id)
        if body is not None:
            return body
        pending = self._loading.get(asset_id)
        if pending is None:
            generation = self._generation

            async def load_and_store() -> bytes:
                fresh = await load()
                self.put(asset_id, fresh, generation=generation)
                return fresh

            pending = asyncio.ensure_future(load_and_store())
            self._loading[asset_id] = pending
            pending.add_done_callback(lambda done: self._settled(asset_id, done))
        # shielded: a caller that goes away does not cancel the others' read
        return await asyncio.shield(pending)

    def _settled(self, asset_id: int, done: asyncio.Future[bytes]) -> None:
        if self._loading.get(asset_id) is done:
            del self._loading[asset_id]
        if not done.cancelled():
            done.exception()  # retrieved here, so a load no waiter saw end is not logged

    def put(self, asset_id: int, body: bytes, generation: int | None = None) -> None:
        """Store ``body``; when ``generation`` is given and an invalidation happened since
        (the body may predate a publication), store nothing."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[asset_id] = (body, time.monotonic() + self.ttl_s)

    def invalidate(self, asset_id: int | None = None) -> None:
        """Drop ``asset_id``'s entry (every entry when None)."""
        with self._lock:
            self._generation += 1
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
