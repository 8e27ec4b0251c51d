"""Operations: request ids, Prometheus metrics, JSON-line access logs, offline docs and
the principal cache (issue: a service a bank can run)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time

import pytest

from api import auth_cache
from api.observability import JsonLineFormatter, redact


def test_a_request_id_is_generated_and_round_trips(client, make_key) -> None:
    r = client.get("/health")
    rid = r.headers["X-Request-ID"]
    assert 1 <= len(rid) <= 128
    assert client.get("/health").headers["X-Request-ID"] != rid  # a new one each time
    r = client.get("/health", headers={"X-Request-ID": "abc-123.def:4"})
    assert r.headers["X-Request-ID"] == "abc-123.def:4"
    # errors carry it too, and a malformed one is replaced
    r = client.get("/v1/assets", headers={"X-Request-ID": "bad id with spaces"})
    assert r.status_code == 401
    assert r.headers["X-Request-ID"] != "bad id with spaces"
    r = client.get("/v1/nothing-here", headers={"X-Request-ID": "x" * 129, **make_key("bank")})
    assert r.status_code == 404
    assert len(r.headers["X-Request-ID"]) < 129


def test_metrics_expose_the_listed_families(client, make_key) -> None:
    headers = make_key("admin")
    assert client.get("/v1/assets", headers=headers).status_code == 200
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    for family in (
        "datafin_http_requests_total",
        "datafin_http_request_duration_seconds_bucket",
        "datafin_valuation_duration_seconds",
        "datafin_pricing_duration_seconds",
        "datafin_job_queue_depth",
        "datafin_job_duration_seconds",
    ):
        assert family in text, family
    assert 'datafin_http_requests_total{method="GET",route="/v1/assets",status="200"}' in text
    assert 'route="/health"' not in text or "/health" in text  # templates, never raw paths
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_access_log_is_one_json_line_without_the_key(client, make_key, caplog) -> None:
    headers = make_key("admin", tenant="tenant-log")
    key = headers["Authorization"].split()[1]
    with caplog.at_level(logging.INFO, logger="datafin.access"):
        client.get("/v1/assets?limit=5", headers={**headers, "X-Request-ID": "rid-1"})
    records = [r for r in caplog.records if r.name == "datafin.access"]
    assert records
    line = JsonLineFormatter().format(records[-1])
    assert "\n" not in line
    assert key not in line
    doc = json.loads(line)
    assert doc["request_id"] == "rid-1"
    assert doc["tenant"] == "tenant-log"
    assert doc["route"] == "/v1/assets"
    assert doc["status"] == 200
    assert doc["duration_ms"] >= 0
    assert doc["ts"].endswith("Z")


def test_keys_are_redacted_from_log_messages() -> None:
    secret = "dfk_0123abcd_" + "s3cr3t-Value_xyz"
    assert "s3cr3t" not in redact(f"bad key {secret} here")
    assert "dfk_0123abcd" in redact(secret)


def test_a_cached_key_is_refused_at_once_when_revoked(client, session_factory) -> None:
    from models.security import create_api_key, revoke_api_key

    with session_factory() as session:
        plain, row = create_api_key(session, role="admin", tenant="tenant-a", label="t")
        session.commit()
        key_id = row.id
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/v1/assets", headers=headers).status_code == 200
    assert client.get("/v1/assets", headers=headers).status_code == 200  # from the cache
    with session_factory() as session:
        revoke_api_key(session, key_id)
        session.commit()
    assert client.get("/v1/assets", headers=headers).status_code == 401


def test_the_principal_cache_expires_and_invalidates() -> None:
    cache = auth_cache.PrincipalCache(ttl_s=60)
    cache.put("h1", type("P", (), {"key_id": "7"})())
    assert cache.get("h1") is not None
    auth_cache.invalidate("8")
    assert cache.get("h1") is not None
    auth_cache.invalidate("7")
    assert cache.get("h1") is None
    off = auth_cache.PrincipalCache(ttl_s=0)
    off.put("h", object())
    assert off.get("h") is None


def test_docs_pages_load_their_assets_from_the_app(client) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        assert f"/static-docs/{asset}" in html
        assert "cdn" not in html.lower()
        r = client.get(f"/static-docs/{asset}")
        assert r.status_code == 200
        assert len(r.content) > 100_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docs_render_offline_in_headless_chromium(app) -> None:
    """Loads /docs in Debian's Chromium with every non-loopback request blocked and finds
    the operation list (Swagger UI's ``.opblock`` elements)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it (make system-deps)")
        pytest.skip("chromium is not installed (make system-deps installs it)")
    import uvicorn
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        outside: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()

            def only_loopback(route) -> None:
                if route.request.url.startswith(f"http://127.0.0.1:{port}/"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_loopback)
            page.goto(f"http://127.0.0.1:{port}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            operations = page.locator(".opblock").count()
            browser.close()
        assert operations >= 20
        assert outside == []
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_integer_beyond_64_bits_in_a_path_is_a_422_not_a_500(client, make_key) -> None:
    r = client.get("/v1/valuations/-11642165669859314668404736/report", headers=make_key("admin"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
