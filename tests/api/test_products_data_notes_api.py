"""POST /v1/data-notes/price on a registered sample asset (revenue paths from valuation)."""

from __future__ import annotations

import pytest

from api.demo_steps.registry import comparable_records, cost_records, signal_rows
from api.schemas.registry import AssetRegister
from api.services import comparables as comparable_service
from api.services import registry
from api.services import signals as signal_service
from samples.data_assets import generate_samples


@pytest.fixture
def asset_id(session_factory) -> tuple[int, str]:
    samples = generate_samples(20240601)
    sample = samples.assets[0]
    with session_factory() as session:
        asset = registry.register_asset(
            session, AssetRegister.model_validate(sample.profile), tenant="tenant-a", actor="test"
        )
        assert asset.id is not None
        signal_service.import_signals(
            session, asset.id, signal_rows(sample.signals), tenant="tenant-a", actor="test"
        )
        registry.add_costs(
            session, asset.id, cost_records(sample.costs), tenant="tenant-a", actor="test"
        )
        comparable_service.add_comparables(
            session, comparable_records(samples.comparables), tenant="tenant-a", actor="test"
        )
        return asset.id, samples.as_of.isoformat()


def test_price_data_note(client, make_key, asset_id) -> None:
    aid, as_of = asset_id
    body = {
        "asset_id": aid,
        "share": 0.3,
        "term_months": 12,
        "cap": None,
        "floor": 0.0,
        "issuer_hazard": 0.05,
        "paths": 500,
        "seed": 3,
        "as_of": as_of,
    }
    fm = make_key("fund_manager", "tenant-b")  # assets are the public record: any tenant prices
    r = client.post("/v1/data-notes/price", json=body, headers=fm)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["price"] > 0
    assert res["seed"] == 3
    assert res["paths"] == 500
    d = res["distribution"]
    assert d["p05"] <= d["p50"] <= d["p95"]
    assert res["yield"] is not None
    assert res["yield"] > 0
    # a riskier issuer is worth less; a smaller share scales the price down
    risky = client.post(
        "/v1/data-notes/price", json={**body, "issuer_hazard": 0.5}, headers=fm
    ).json()
    assert risky["price"] < res["price"]
    half = client.post("/v1/data-notes/price", json={**body, "share": 0.15}, headers=fm).json()
    assert half["price"] == pytest.approx(res["price"] / 2, rel=1e-9)


def test_data_note_errors(client, make_key, asset_id) -> None:
    aid, as_of = asset_id
    fm = make_key("fund_manager")
    base = {
        "asset_id": aid,
        "share": 0.3,
        "term_months": 12,
        "paths": 100,
        "seed": 1,
        "as_of": as_of,
    }
    r = client.post("/v1/data-notes/price", json={**base, "share": 1.5}, headers=fm)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "share"
    r = client.post("/v1/data-notes/price", json={**base, "cap": 10.0, "floor": 20.0}, headers=fm)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "floor"
    r = client.post("/v1/data-notes/price", json={**base, "asset_id": 999_999}, headers=fm)
    assert r.status_code == 404
    assert (
        client.post("/v1/data-notes/price", json=base, headers=make_key("bank")).status_code == 403
    )


def test_full_revenue_note_is_worth_at_most_the_income_value(client, make_key, asset_id) -> None:
    aid, as_of = asset_id
    fm = make_key("fund_manager")
    body = {
        "asset_id": aid,
        "share": 1.0,
        "term_months": 60,
        "paths": 300,
        "seed": 5,
        "as_of": as_of,
        "default_threshold": 0.0,
        "recovery_rate": 0.0,
    }
    r = client.post("/v1/data-notes/price", json=body, headers=fm)
    assert r.status_code == 200, r.text
    res = r.json()
    assert 0 < res["price"] <= res["income_value"] * (1 + 1e-12)
    assert "gross revenue" in res["basis"]
    assert "income approach" in res["basis"]
    linked = client.post(
        "/v1/data-notes/price", json={**body, "default_threshold": 0.9}, headers=fm
    ).json()
    assert linked["price"] < res["price"]
    assert linked["default_probability"] > 0
