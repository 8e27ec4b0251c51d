"""A short-lived cache of authenticated API keys: key hash -> `api.deps.Principal`.

Authentication would otherwise cost a database round trip on every request. An entry
lives ``AUTH_CACHE_SECONDS`` (default 10 s; 0 turns the cache off) and is keyed by the
SHA-256 of the whole key (the secret is never kept). Failed look-ups are not cached, so a
new key works at once.

Revocation. `invalidate(key_id)` drops a key's entries from every cache of this process;
`models.security.revoke_api_key` calls it (through `models.security.on_revoke`) both when
the key is marked revoked and again after the transaction commits, so a revoked key is a
401 on its next request to this process. Another server process (``datafin serve
--workers N``, another host, the CLI revoking a key) drops its copy within the TTL.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

DEFAULT_TTL_S = 10.0


class PrincipalCache:
    """Key hash -> (principal, expiry on the monotonic clock)."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = 10_000) -> None:
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, key_hash: str) -> Any | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            with self._lock:
                self._entries.pop(key_hash, None)
            return None
        return entry[0]

    def put(self, key_hash: str, principal: Any) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_hash] = (principal, time.monotonic() + self.ttl_s)

    def invalidate(self, key_id: Any = None) -> None:
        """Drop the entries of ``key_id`` (every entry when None)."""
        with self._lock:
            if key_id is None:
                self._entries.clear()
                return
            wanted = str(key_id)
            for h in [
                h for h, (p, _) in self._entries.items() if str(getattr(p, "key_id", "")) == wanted
            ]:
                del self._entries[h]


_CACHES: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


def invalidate(key_id: Any = None) -> None:
    """Drop ``key_id`` (every key when None) from every principal cache of this process."""
    for cache in list(_CACHES):
        cache.invalidate(key_id)


def for_app(app: Any) -> PrincipalCache:
    """The app's cache (``app.state.auth_cache``), created on first use."""
    cache = getattr(app.state, "auth_cache", None)
    if cache is None:
        settings = getattr(app.state, "settings", None)
        cache = PrincipalCache(getattr(settings, "auth_cache_seconds", DEFAULT_TTL_S))
        app.state.auth_cache = cache
    return cache


def _register() -> None:
    from models import security

    if invalidate not in security.on_revoke:
        security.on_revoke.append(invalidate)


_register()
