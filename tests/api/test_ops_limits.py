"""Request guard: 401 before the body is read, 413 above the size limit, 429 with Retry-After
per key and per address of failed authentications."""

from __future__ import annotations

import time

import pytest

from api.app import create_app
from api.limits import TokenBuckets
from api.settings import Settings


def _client(engine, **settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    return TestClient(create_app(engine=engine, settings=Settings(**settings)))


def test_no_key_is_a_401_before_the_body_is_read(engine, monkeypatch) -> None:
    read = []
    client = _client(engine)

    def body():  # a streamed body: reading it would be recorded
        read.append(1)
        yield b"[" + b"0," * 1000 + b"0]"

    r = client.post("/v1/comparables", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"
    assert "X-Request-ID" in r.headers
    assert read == []


def test_bodies_above_the_limit_are_413(engine, make_key) -> None:
    client = _client(engine, max_body_bytes=1000, max_import_body_bytes=5000)
    key = make_key("registrar")
    big = b"x" * 2000
    r = client.post(
        "/v1/comparables", content=big, headers={**key, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert "1,000 bytes" in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(10):
            yield b"x" * 300

    r = client.post(
        "/v1/comparables", content=chunks(), headers={**key, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    # signal imports have their own, larger limit: 2,000 bytes pass the size check (and fail later)
    r = client.post(
        "/v1/assets/1/signals", content=big, headers={**key, "Content-Type": "text/csv"}
    )
    assert r.status_code != 413


def test_rate_limit_per_key_is_a_429_with_retry_after(engine, make_key) -> None:
    client = _client(engine, rate_limit_per_second=0.5, rate_limit_burst=3)
    key, other = make_key("bank"), make_key("bank")
    codes = [client.get("/v1/assets", headers=key).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/v1/assets", headers=key)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Rate limit" in r.json()["detail"]
    assert client.get("/v1/assets", headers=other).status_code == 200  # per key


def test_failed_authentications_per_address_are_limited(engine, make_key) -> None:
    client = _client(engine, auth_failure_per_minute=1, auth_failure_burst=5)
    bad = {"Authorization": "Bearer dfk_not_a_real_key_0000000000"}
    codes = [client.get("/v1/assets", headers=bad).status_code for _ in range(7)]
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    r = client.get(
        "/v1/assets", headers=make_key("bank")
    )  # the address is blocked, good key or not
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 10.0), (10.0, 0.0)])
def test_a_zero_limit_is_off(rate: float, burst: float) -> None:
    buckets = TokenBuckets(rate, burst)
    assert all(buckets.take("k") == 0.0 for _ in range(100))


def test_buckets_refill_at_their_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("api.limits.time.monotonic", lambda: now[0])
    buckets = TokenBuckets(rate=2.0, burst=2.0)
    assert buckets.take("k") == 0.0
    assert buckets.take("k") == 0.0
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0.0


@pytest.mark.parametrize(
    ("paths", "assumptions"), [(1_000_000, {}), (100_000, {"max_life_months": 600})]
)
def test_a_valuation_above_the_path_month_ceiling_is_a_422(
    client, make_key, paths, assumptions
) -> None:
    """Checked before anything is read or simulated: the asset need not even exist."""
    r = client.post(
        "/v1/assets/1/valuations",
        headers=make_key("registrar"),
        json={"as_of": "2025-01-01", "paths": paths, "assumptions": assumptions},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "paths"
    assert "6,000,000" in r.json()["detail"]


def test_a_body_that_stops_arriving_is_a_408(engine, make_key, monkeypatch) -> None:
    """A client that sends its headers and part of its body, then nothing: 408 after the
    read timeout (over a real socket; the test client buffers whole bodies)."""
    import socket

    from live_server import LiveServer

    import api.limits as limits

    monkeypatch.setattr(limits, "BODY_READ_TIMEOUT_SECONDS", 0.3)
    key = make_key("registrar")["Authorization"]
    with LiveServer(create_app(engine=engine)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                (
                    f"POST /v1/comparables HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n["
                ).encode()
            )
            t0 = time.monotonic()
            reply = sock.recv(4096).decode("latin-1")
            waited = time.monotonic() - t0
    assert reply.startswith("HTTP/1.1 408"), reply[:200]
    assert "application/problem+json" in reply
    assert waited < 5
