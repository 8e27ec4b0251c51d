"""Request guard: authenticate before the body is read, rate limits, and body-size limits.

An ASGI middleware in front of every ``/v1`` route (all of them need an API key):

1. **Authentication first.** FastAPI reads and parses a request body before it runs the
   route's dependencies, so a 69 MB JSON with no key would cost memory before its 401.
   The guard resolves the bearer key from the headers alone (the principal cache, else
   one database read) and answers 401 without reading a byte of a body it will not serve.
2. **Failed authentication per source address.** Each client address has a bucket of
   ``AUTH_FAILURE_BURST`` failures (default 100) refilled at ``AUTH_FAILURE_PER_MINUTE``
   (default 60); an empty bucket is a 429 before any key is checked, so guessing keys is
   slow.
3. **Rate limit per key.** Each key has a token bucket of ``RATE_LIMIT_BURST`` requests
   (default 1,000) refilled at ``RATE_LIMIT_PER_SECOND`` (default 100); an empty bucket is
   a 429. Both 429s carry ``Retry-After`` (whole seconds). ``0`` turns a limit off. The
   buckets live in the process: with ``--workers N`` each worker counts on its own.
4. **Body size.** A declared ``Content-Length`` above the route's limit is a 413 before
   anything is read; a body without one is counted while it streams and cut off with a 413
   at the limit. ``MAX_BODY_BYTES`` (default 10 MB) for every route; signal imports and
   asset registration (which may carry a signals file) have ``MAX_IMPORT_BODY_BYTES``
   (default 50 MB). A body whose next piece does not arrive within 30 s is a 408, so a
   slow client cannot hold a request open.

Every refusal is ``application/problem+json`` and names the limit.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from typing import Any

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response

#: Longest wait for the next piece of a request body (a slow client gets a 408).
BODY_READ_TIMEOUT_SECONDS = 30.0

_IMPORT_PATH = re.compile(r"^/v1/assets(/[^/]+/signals)?/?$")


class TokenBuckets:
    """Token buckets by key: ``burst`` tokens, refilled at ``rate`` per second (thread-safe)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._state.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def take(self, key: str) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens = self._level(key, now)
            if tokens >= 1.0:
                if len(self._state) >= self.max_keys and key not in self._state:
                    self._state.clear()  # bounded memory under a flood of distinct keys
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def empty(self, key: str) -> float:
        """Seconds until ``key`` has a token (0.0 when it has one now); takes nothing."""
        if not self.enabled:
            return 0.0
        with self._lock:
            tokens = self._level(key, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


class RequestGuard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, api: Any) -> None:
        self.app = app
        self.api = api  # the FastAPI application (settings, session factory, principal cache)
        settings = api.state.settings
        self.requests = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
        self.failures = TokenBuckets(
            settings.auth_failure_per_minute / 60.0, settings.auth_failure_burst
        )
        self.max_body = int(settings.max_body_bytes)
        self.max_import_body = int(settings.max_import_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.failures.empty(client)
        if wait > 0:
            await self._refuse(
                scope,
                send,
                429,
                "Too many failed authentications from this address; "
                f"retry after {math.ceil(wait)} s.",
                retry_after=wait,
            )
            return
        principal, problem = self._principal(headers.get(b"authorization"), cached_only=True)
        if principal is None and not problem:  # not in the principal cache: one database read
            principal, problem = await to_thread.run_sync(
                self._principal, headers.get(b"authorization")
            )
        if principal is None:
            self.failures.take(client)
            await self._refuse(scope, send, 401, problem, extra={"WWW-Authenticate": "Bearer"})
            return
        wait = self.requests.take(principal.key_id)
        if wait > 0:
            await self._refuse(
                scope,
                send,
                429,
                f"Rate limit of this API key reached ({self.requests.rate:g} "
                f"requests/s, bursts of {self.requests.burst:g}); retry after "
                f"{math.ceil(wait)} s.",
                retry_after=wait,
            )
            return
        limit = self.max_import_body if _IMPORT_PATH.match(scope["path"]) else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(
                scope,
                send,
                413,
                f"The request body ({int(declared):,} bytes) is above "
                f"the limit of {limit:,} bytes for this route.",
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        received = 0
        too_large = too_slow = False
        forwarded = False

        async def counted_receive() -> Message:
            nonlocal received, too_large, too_slow
            if too_large or too_slow:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), timeout=BODY_READ_TIMEOUT_SECONDS)
            except TimeoutError:
                too_slow = True  # a client that trickles its body: answered 408, not waited for
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # stop reading: the app sees a disconnected client and its answer is
                    # replaced by the 413 below
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal forwarded
            if (too_large or too_slow) and not forwarded:
                return
            forwarded = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not (too_large or too_slow) or forwarded:
                raise
        if too_large and not forwarded:
            await self._refuse(
                scope,
                send,
                413,
                f"The request body is above the limit of {limit:,} bytes for this route.",
            )
        elif too_slow and not forwarded:
            await self._refuse(
                scope,
                send,
                408,
                f"The request body did not arrive: no data for {BODY_READ_TIMEOUT_SECONDS:g} s.",
            )

    def _principal(
        self, authorization: bytes | None, *, cached_only: bool = False
    ) -> tuple[Any, str]:
        """The caller from the Authorization header, or None and the reason. With
        ``cached_only`` (no I/O, on the event loop): None and no reason when the key is not
        in the principal cache."""
        from api.deps import cached_principal, resolve_principal

        value = (authorization or b"").decode("latin-1").strip()
        scheme, _, plain = value.partition(" ")
        plain = plain.strip()
        if scheme.lower() != "bearer" or not plain:
            return None, "An API key is required: send `Authorization: Bearer <key>`."
        if cached_only:
            return cached_principal(self.api, plain), ""
        principal = resolve_principal(self.api, plain)
        return (principal, "") if principal is not None else (None, "The API key is not valid.")

    @staticmethod
    async def _refuse(
        scope: Scope,
        send: Send,
        status: int,
        detail: str,
        *,
        retry_after: float | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        headers = dict(extra or {})
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        response = problem_response(status, detail, headers=headers)

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)


def install(app: Any) -> None:
    """Put `RequestGuard` around the app's middleware stack (inside the request-id and
    metrics middleware of `api.observability`, which wraps whatever this builds)."""
    build = app.build_middleware_stack

    def build_with_guard() -> ASGIApp:
        return RequestGuard(build(), app)

    app.build_middleware_stack = build_with_guard
