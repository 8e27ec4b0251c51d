"""The dashboard at /ui in a real browser: headless Chromium (Debian's ``chromium``,
driven by Playwright; no browser is downloaded) loads /ui, logs in with a key, opens an
asset and a stress run, and finds their figures and charts. Screenshots go to
``test-artifacts/ui/`` (gitignored). Another tenant's key sees none of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from live_server import LiveServer
from report_world import CHINESE_NAME, build_world

from api.app import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "Chromium is needed for the dashboard test: `make system-deps` installs "
            "Debian's chromium package."
        )
    return path


def _raw(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def test_dashboard_in_headless_chromium(engine, client, make_key, session_factory) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    w = build_world(client, make_key, session_factory, stress=True)
    other_registrar = make_key("registrar", "tenant-other")
    r = client.post(
        "/v1/assets",
        headers=other_registrar,
        json={
            "name": "Other tenant's asset",
            "category": "consumer",
            "records": 10,
            "refresh_days": 30,
            "fingerprint_sha256": "ab" * 32,
            "rights": {
                "holding": True,
                "processing_use": True,
                "product_operation": False,
                "exclusive": False,
                "territory": "CN",
                "cross_border": False,
            },
            "quality": dict.fromkeys(
                (
                    "accuracy",
                    "consistency",
                    "completeness",
                    "conformity",
                    "timeliness",
                    "accessibility",
                ),
                0.9,
            ),
        },
    )
    assert r.status_code == 201, r.text
    valuation = client.get(f"/v1/valuations/{w.valuation_id}", headers=w.keys["risk"]).json()
    results = client.get(f"/v1/stress-runs/{w.run_id}/results", headers=w.keys["risk"]).json()
    stressed = results["aggregate"]["collateral_value"]["stressed"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with LiveServer(create_app(engine=engine)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{base}/ui")
            assert page.locator("#api_key").is_visible()
            page.screenshot(path=str(ARTIFACTS / "01-login.png"))
            page.fill("#api_key", "df_not_a_key")
            page.click("#login")
            assert "not valid" in page.locator("#error").inner_text()

            page.fill("#api_key", _raw(w.keys["risk"]))
            page.click("#login")
            page.wait_for_url(f"{base}/ui")
            assert page.locator("#tenant").inner_text() == "demo"
            page.screenshot(path=str(ARTIFACTS / "02-home.png"))

            page.click("text=Assets")
            page.wait_for_url(f"{base}/ui/assets")
            assert "Other tenant's asset" not in page.content()
            page.click(f"text={CHINESE_NAME}")
            page.wait_for_url(f"{base}/ui/assets/{w.asset_id}")
            assert page.locator("#asset-name").inner_text() == CHINESE_NAME
            assert f"{valuation['value']:,.2f}" in page.locator("#value").inner_text()
            assert (
                f"{valuation['quote']['lending_value']:,.2f}"
                in page.locator("#lending-value").inner_text()
            )
            assert page.locator(".chart svg").count() == 1
            page.screenshot(path=str(ARTIFACTS / "03-asset.png"), full_page=True)
            pdf = page.request.get(f"{base}/ui/documents/valuation/{w.valuation_id}?format=pdf")
            assert pdf.status == 200
            assert pdf.headers["content-type"] == "application/pdf"

            page.click("text=Stress runs")
            page.click(f"text={w.run_id}")
            page.wait_for_url(f"{base}/ui/stress-runs/{w.run_id}")
            assert f"{stressed:,.2f}" in page.locator("#aggregate").inner_text()
            assert page.locator("#stress-chart svg").count() == 1
            page.screenshot(path=str(ARTIFACTS / "04-stress-run.png"), full_page=True)
            page.click("#stress-report")
            assert "Stress report" in page.locator("h1").inner_text()
            page.screenshot(path=str(ARTIFACTS / "05-stress-report.png"))

            # another tenant's key: none of the demo tenant's objects
            other = browser.new_context().new_page()
            other.goto(f"{base}/ui")
            other.fill("#api_key", _raw(make_key("risk", "tenant-other")))
            other.click("#login")
            other.wait_for_url(f"{base}/ui")
            other.goto(f"{base}/ui/assets")
            assert CHINESE_NAME not in other.content()
            assert "Other tenant's asset" in other.content()
            for path in (
                f"/ui/assets/{w.asset_id}",
                f"/ui/stress-runs/{w.run_id}",
                f"/ui/documents/stress/{w.run_id}",
                f"/ui/documents/valuation/{w.valuation_id}",
            ):
                response = other.goto(f"{base}{path}")
                assert response is not None, path
                assert response.status == 404, path
            other.screenshot(path=str(ARTIFACTS / "06-other-tenant-404.png"))
            # a bank key is not shown the stress runs
            bank = browser.new_context().new_page()
            bank.goto(f"{base}/ui")
            bank.fill("#api_key", _raw(w.keys["bank"]))
            bank.click("#login")
            bank.wait_for_url(f"{base}/ui")
            assert bank.locator("text=Stress runs").count() == 0
            assert bank.goto(f"{base}/ui/stress-runs/{w.run_id}").status == 403
        finally:
            browser.close()


def test_dashboard_loans_and_deals_pages(client, make_key, session_factory) -> None:
    w = build_world(client, make_key, session_factory, deal=True)
    r = client.post("/ui/login", data={"api_key": _raw(w.keys["bank"])}, follow_redirects=False)
    assert r.status_code == 303
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    loans = client.get("/ui/loans")
    assert loans.status_code == 200
    assert f'href="/ui/loans/{w.loan_id}"' in loans.text
    loan = client.get(f"/ui/loans/{w.loan_id}")
    assert loan.status_code == 200
    assert "Collateral certificate" in loan.text
    assert "origination" in loan.text
    deals = client.get("/ui/deals")
    assert deals.status_code == 200
    assert f"/ui/documents/deal/{w.deal_id}" in deals.text
    pdf = client.get(f"/ui/documents/deal/{w.deal_id}?format=pdf")
    assert pdf.status_code == 200
    assert pdf.content[:5] == b"%PDF-"
    assert client.get(f"/ui/documents/loan/{w.loan_id}").status_code == 200
    assert client.get("/ui/stress-runs").status_code == 403  # a bank key
    client.post("/ui/logout")
    client.cookies.clear()
    assert client.get("/ui/loans").status_code == 401
    assert client.post("/ui/login", data={"api_key": "nope"}).status_code == 401
