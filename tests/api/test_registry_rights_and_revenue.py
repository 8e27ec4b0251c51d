"""Rights over HTTP: the term is registered and echoed, only a holder may pledge; comparables
may carry the traded product's annual revenue and a qualified rights scope."""

from __future__ import annotations

import copy

from api.demo_steps.registry import comparable_records, cost_records, signal_rows
from api.schemas.registry import AssetRegister
from api.services import comparables as comparable_service
from api.services import registry
from api.services import signals as signal_service
from samples.data_assets import generate_samples

SAMPLES = generate_samples(9, n_assets=1)
AS_OF = SAMPLES.as_of


def _register(session_factory, profile: dict) -> int:
    sample = SAMPLES.assets[0]
    with session_factory() as session:
        a = registry.register_asset(
            session, AssetRegister.model_validate(profile), tenant="owner", actor="t"
        )
        signal_service.import_signals(
            session, a.id, signal_rows(sample.signals), tenant="owner", actor="t"
        )
        registry.add_costs(session, a.id, cost_records(sample.costs), tenant="owner", actor="t")
        comparable_service.add_comparables(
            session, comparable_records(SAMPLES.comparables), tenant="owner", actor="t"
        )
        return int(a.id)


def test_rights_term_is_registered_echoed_and_caps_the_life(client, make_key) -> None:
    profile = copy.deepcopy(SAMPLES.assets[0].profile)
    profile["rights"]["term_months"] = 20
    registrar = make_key("registrar", "owner")
    r = client.post("/v1/assets", json=profile, headers=registrar)
    assert r.status_code == 201, r.text
    assert r.json()["rights"]["term_months"] == 20
    aid = r.json()["id"]
    assert client.get(f"/v1/assets/{aid}", headers=registrar).json()["rights"]["term_months"] == 20
    bad = copy.deepcopy(profile)
    bad["rights"]["term_months"] = 0
    bad["fingerprint_sha256"] = "a" * 64
    r = client.post("/v1/assets", json=bad, headers=registrar)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rights.term_months"


def test_without_holding_right_no_pledge(client, make_key, session_factory) -> None:
    profile = copy.deepcopy(SAMPLES.assets[0].profile)
    profile["rights"]["holding"] = False
    aid = _register(session_factory, profile)
    registrar = make_key("registrar", "owner")
    v = client.post(
        f"/v1/assets/{aid}/valuations",
        json={"as_of": AS_OF.isoformat(), "paths": 500, "seed": 1},
        headers=registrar,
    )
    assert v.status_code == 201, v.text  # it can be valued
    body = {
        "asset_ids": [aid],
        "currency": "CNY",
        "tenor_months": 12,
        "amortization": "annuity",
        "frequency_months": 1,
        "borrower": {"rating": "BBB"},
        "as_of": AS_OF.isoformat(),
    }
    bank = make_key("bank", "bank-a")
    for path, extra in (("/v1/loans/quote", {}), ("/v1/loans", {"principal": 1000.0})):
        r = client.post(path, json={**body, **extra}, headers=bank)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "rights.holding"


def test_comparables_take_annual_revenue_and_qualified_scopes(client, make_key) -> None:
    key = make_key("registrar", "owner")
    row = {
        "category": "consumer",
        "price": 1_200_000.0,
        "currency": "CNY",
        "traded_on": "2025-06-15",
        "records": 1_000_000,
        "quality_score": 0.9,
        "rights_scope": "product_operation+exclusive",
        "annual_revenue": 900_000.0,
    }
    r = client.post("/v1/comparables", json=row, headers=key)
    assert r.status_code == 201, r.text
    out = r.json()["items"][0]
    assert out["annual_revenue"] == 900_000.0
    assert out["rights_scope"] == "product_operation+exclusive"
    r = client.post(
        "/v1/comparables", json={k: v for k, v in row.items() if k != "annual_revenue"}, headers=key
    )
    assert r.status_code == 201
    assert r.json()["items"][0]["annual_revenue"] is None
    for field, value in (
        ("annual_revenue", -1.0),
        ("rights_scope", "holding+everything"),
        ("rights_scope", "exclusive"),
    ):
        r = client.post("/v1/comparables", json={**row, field: value}, headers=key)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == f"0.{field}"
