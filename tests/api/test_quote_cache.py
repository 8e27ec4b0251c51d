"""The quote cache's single flight: an expiry under load costs one read, never a herd."""

from __future__ import annotations

import asyncio

import pytest

from api.quote_cache import QuoteCache


def test_concurrent_misses_share_one_load() -> None:
    cache = QuoteCache(ttl_s=60)
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return b'{"mid": 1}'

    async def main() -> list[bytes]:
        return await asyncio.gather(*(cache.get_or_load(7, load) for _ in range(32)))

    assert asyncio.run(main()) == [b'{"mid": 1}'] * 32
    assert calls == 1
    assert cache.get(7) == b'{"mid": 1}'


def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache = QuoteCache(ttl_s=60)
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise LookupError("asset 7 has no quote")

    async def main() -> list[BaseException | bytes]:
        return await asyncio.gather(
            *(cache.get_or_load(7, load) for _ in range(5)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert all(isinstance(r, LookupError) for r in results)
    assert calls == 1
    assert cache.get(7) is None
    with pytest.raises(LookupError):  # the next request reads again
        asyncio.run(cache.get_or_load(7, load))
    assert calls == 2


def test_a_load_that_straddles_an_invalidation_stores_nothing() -> None:
    """A read that began before a publication may hold the previous quote: it answers the
    requests that were waiting, but the next request reads the new quote."""
    cache = QuoteCache(ttl_s=60)

    async def load() -> bytes:
        await asyncio.sleep(0.01)
        cache.invalidate(7)  # a publication commits while the read is in flight
        return b"old"

    assert asyncio.run(cache.get_or_load(7, load)) == b"old"
    assert cache.get(7) is None


def test_a_waiter_that_goes_away_does_not_cancel_the_others() -> None:
    cache = QuoteCache(ttl_s=60)

    async def load() -> bytes:
        await asyncio.sleep(0.02)
        return b"q"

    async def main() -> bytes:
        first = asyncio.ensure_future(cache.get_or_load(7, load))
        second = asyncio.ensure_future(cache.get_or_load(7, load))
        await asyncio.sleep(0.005)
        first.cancel()  # its client disconnected
        return await second

    assert asyncio.run(main()) == b"q"
    assert cache.get(7) == b"q"


def test_a_zero_ttl_loads_every_time() -> None:
    cache = QuoteCache(ttl_s=0)
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        return b"q"

    asyncio.run(cache.get_or_load(1, load))
    asyncio.run(cache.get_or_load(1, load))
    assert calls == 2
