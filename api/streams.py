"""The quote stream's hub: one poller per process, any number of idle streams at no cost.

Each ``GET /v1/quotes/stream`` used to poll the quote table itself, so a few hundred open
streams were a few hundred queries a second on the shared thread pool. Here one task per
process polls the table (a short-lived session every `POLL_SECONDS`, and only while some
stream is open) and hands new quotes to every open stream's bounded queue. An idle stream
holds no database connection and no thread, only its queue.

Limits: at most `MAX_STREAMS_PER_KEY` open streams per API key (the next is a 429); a
stream whose client stops reading falls behind, its queue fills (`QUEUE_SIZE` quotes) and
the stream ends; every `KEEPALIVE_SECONDS` without a quote the stream sends a comment line,
so proxies keep the connection and a dead client is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.concurrency import run_in_threadpool

POLL_SECONDS = 0.5
MAX_STREAMS_PER_KEY = 5
QUEUE_SIZE = 1000
KEEPALIVE_SECONDS = 15.0


@dataclass(eq=False)
class Subscriber:
    key_id: str
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class TooManyStreams(Exception):
    """The key already has `MAX_STREAMS_PER_KEY` open streams."""


class QuoteHub:
    """Fan-out of new quotes to the open streams of one process."""

    def __init__(
        self,
        poll: Callable[[int], list[dict[str, Any]]],
        last_id: Callable[[], int],
        max_per_key: int = MAX_STREAMS_PER_KEY,
    ) -> None:
        self._poll = poll
        self._last_id = last_id
        self.max_per_key = max_per_key
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self.last_seen: int | None = None

    def open_streams(self, key_id: str | None = None) -> int:
        with self._lock:
            return sum(1 for s in self._subscribers if key_id is None or s.key_id == key_id)

    async def subscribe(self, key_id: str) -> Subscriber:
        """Register a stream (429-worthy `TooManyStreams` beyond the per-key cap) and make
        sure the poller runs; ``last_seen`` is the id the stream's live feed starts after."""
        with self._lock:
            if sum(1 for s in self._subscribers if s.key_id == key_id) >= self.max_per_key:
                raise TooManyStreams
            sub = Subscriber(key_id)
            self._subscribers.add(sub)
        if self.last_seen is None:
            self.last_seen = await run_in_threadpool(self._last_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    async def _run(self) -> None:
        while True:
            with self._lock:
                idle = not self._subscribers
            if idle:
                self._task = None
                return
            with contextlib.suppress(Exception):  # a failed poll is retried at the next tick
                after = self.last_seen or 0
                quotes = await run_in_threadpool(self._poll, after)
                if quotes:
                    self.last_seen = int(quotes[-1]["id"])
                    with self._lock:
                        subscribers = list(self._subscribers)
                    for sub in subscribers:
                        for quote in quotes:
                            try:
                                sub.queue.put_nowait(quote)
                            except asyncio.QueueFull:
                                sub.overflowed = True  # the client stopped reading: end its stream
                                break
                    if len(quotes) >= 100:
                        continue  # more are waiting: read them now
            await asyncio.sleep(POLL_SECONDS)


def hub_for(
    app: Any, poll: Callable[[int], list[dict[str, Any]]], last_id: Callable[[], int]
) -> QuoteHub:
    """The hub of the app in the running event loop (created on first use; a server
    process has one loop, test clients may run several)."""
    hubs = getattr(app.state, "quote_hubs", None)
    if hubs is None:
        hubs = weakref.WeakKeyDictionary()
        app.state.quote_hubs = hubs
    loop = asyncio.get_running_loop()
    hub = hubs.get(loop)
    if hub is None:
        hub = QuoteHub(poll, last_id)
        hubs[loop] = hub
    return hub
