"""Quote streams cost no database connection while idle: many open streams leave the API
answering; at most 5 per key; one poller fans quotes out; a client that stops reading is
dropped."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from live_server import LiveServer

from api import streams
from api.app import create_app

STREAMS_PER_KEY = streams.MAX_STREAMS_PER_KEY
KEYS = 8  # 40 open streams: more than the 15 pooled connections that used to be the limit


def test_open_streams_do_not_stall_the_api(engine, make_key) -> None:
    keys = [make_key("bank") for _ in range(KEYS)]
    app = create_app(engine=engine)

    async def scenario(base: str) -> dict[str, object]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            opened = []
            for key in keys:
                for _ in range(STREAMS_PER_KEY):
                    request = client.build_request(
                        "GET", "/v1/quotes/stream", params={"timeout_seconds": 30}, headers=key
                    )
                    response = await client.send(request, stream=True)
                    assert response.status_code == 200
                    opened.append(response)
            readers = [r.aiter_text() for r in opened]  # kept: a dropped reader closes its stream
            first = [await reader.__anext__() for reader in readers]
            extra = await client.get(
                "/v1/quotes/stream", params={"timeout_seconds": 1}, headers=keys[0]
            )
            timings = []
            for path, headers in (
                ("/health", {}),
                ("/v1/assets", keys[1]),
                ("/v1/quotes/1", keys[2]),
            ):
                t0 = time.perf_counter()
                r = await client.get(path, headers=headers)
                timings.append((path, r.status_code, time.perf_counter() - t0))
            hub_streams = sum(h.open_streams() for h in app.state.quote_hubs.values())
            for r in opened:
                await r.aclose()
            return {"first": first, "extra": extra, "timings": timings, "hub_streams": hub_streams}

    with LiveServer(app) as base:
        out = asyncio.run(scenario(base))
    assert all(text.startswith(": quotes stream") for text in out["first"])  # type: ignore[union-attr]
    extra = out["extra"]
    assert extra.status_code == 429
    assert extra.headers["Retry-After"] == "5"
    assert extra.headers["content-type"].startswith("application/problem+json")  # type: ignore[union-attr]
    assert out["hub_streams"] == KEYS * STREAMS_PER_KEY
    for path, status, seconds in out["timings"]:  # type: ignore[union-attr]
        assert status in (200, 404), path
        assert seconds < 2.0, (path, seconds)  # normal latency is milliseconds; stalled was 26 s


def _quote(i: int) -> dict[str, object]:
    return {"id": i}


def test_one_poller_fans_out_and_drops_a_client_that_stops_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(streams, "QUEUE_SIZE", 3)
    table = [_quote(i) for i in range(1, 6)]
    polls = []

    def poll(after: int) -> list[dict[str, object]]:
        polls.append(after)
        return [q for q in table if int(q["id"]) > after]  # type: ignore[call-overload]

    async def scenario() -> tuple[list[int], bool, int]:
        hub = streams.QuoteHub(poll, lambda: 0, max_per_key=2)
        reader = await hub.subscribe("a")
        idle = await hub.subscribe("b")  # never reads
        second = await hub.subscribe("a")
        with pytest.raises(streams.TooManyStreams):
            await hub.subscribe("a")
        hub.unsubscribe(second)
        got = [int((await asyncio.wait_for(reader.queue.get(), 2))["id"]) for _ in range(3)]
        await asyncio.sleep(0.05)
        hub.unsubscribe(reader)
        hub.unsubscribe(idle)
        await asyncio.sleep(0.05)
        return got, idle.overflowed, hub.open_streams()

    got, overflowed, left = asyncio.run(scenario())
    assert got == [1, 2, 3]
    assert overflowed
    assert left == 0
    assert polls
    assert polls[0] == 0
