"""Loans rely on a stored valuation: its id is recorded, its haircut is the asset quote's,
and the request cannot choose the collateral's seed, paths or date."""

from __future__ import annotations

import pytest
from loan_consents import consent_all

from api.demo_steps.registry import comparable_records, cost_records, signal_rows
from api.schemas.registry import AssetRegister
from api.services import comparables as comparable_service
from api.services import registry
from api.services import signals as signal_service
from samples.data_assets import generate_samples

SAMPLES = generate_samples(5, n_assets=2)
AS_OF = SAMPLES.as_of


@pytest.fixture
def asset_ids(session_factory) -> list[int]:
    ids = []
    with session_factory() as session:
        for sample in SAMPLES.assets:
            a = registry.register_asset(
                session, AssetRegister.model_validate(sample.profile), tenant="owner", actor="t"
            )
            signal_service.import_signals(
                session, a.id, signal_rows(sample.signals), tenant="owner", actor="t"
            )
            registry.add_costs(session, a.id, cost_records(sample.costs), tenant="owner", actor="t")
            ids.append(a.id)
        comparable_service.add_comparables(
            session, comparable_records(SAMPLES.comparables), tenant="owner", actor="t"
        )
        consent_all(session, ids)  # the banks lend against the owner's assets
    return ids


def _body(asset_ids: list[int], **kw) -> dict:
    return {
        "asset_ids": asset_ids,
        "currency": "CNY",
        "tenor_months": 12,
        "amortization": "annuity",
        "frequency_months": 1,
        "borrower": {"rating": "BBB"},
        "as_of": AS_OF.isoformat(),
        **kw,
    }


def test_no_stored_valuation_is_a_422_naming_valuation_id(client, make_key, asset_ids) -> None:
    r = client.post(
        "/v1/loans/quote", json=_body(asset_ids[:1]), headers=make_key("bank", "bank-a")
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "valuation_id"


def test_quote_and_loan_use_the_asset_quote_and_record_the_valuation(
    client, make_key, asset_ids, session_factory
) -> None:
    registrar = make_key("registrar", "owner")
    bank = make_key("bank", "bank-a")
    aid = asset_ids[0]
    first = client.post(
        f"/v1/assets/{aid}/valuations",
        json={"as_of": AS_OF.isoformat(), "paths": 2000, "seed": 1},
        headers=registrar,
    )
    assert first.status_code == 201, first.text
    latest = client.post(
        f"/v1/assets/{aid}/valuations",
        json={"as_of": AS_OF.isoformat(), "paths": 2000, "seed": 2},
        headers=registrar,
    ).json()
    quote = client.post("/v1/loans/quote", json=_body([aid]), headers=bank).json()
    # the latest stored valuation by default, its haircut and lending value exactly
    assert quote["valuation_id"] == latest["id"]
    assert quote["assets"][0]["valuation_id"] == latest["id"]
    assert quote["assets"][0]["haircut"] == latest["quote"]["haircut"]
    assert quote["haircut"] == pytest.approx(latest["quote"]["haircut"], rel=1e-8)
    assert quote["lending_value"] == pytest.approx(latest["quote"]["lending_value"], abs=1e-4)
    assert quote["collateral_value"] == pytest.approx(latest["value"], abs=1e-4)
    assert (quote["paths"], quote["seed"]) == (2000, 2)
    # a named valuation is used instead
    named = client.post(
        "/v1/loans/quote", json=_body([aid], valuation_id=first.json()["id"]), headers=bank
    ).json()
    assert named["valuation_id"] == first.json()["id"]
    assert named["assets"][0]["haircut"] == first.json()["quote"]["haircut"]
    # the loan records it, and so does its pledge
    loan = client.post(
        "/v1/loans",
        json=_body([aid], principal=round(quote["max_principal"] * 0.5, 2)),
        headers=bank,
    )
    assert loan.status_code == 201, loan.text
    assert loan.json()["valuation_id"] == latest["id"]
    assert loan.json()["pledges"][0]["valuation_id"] == latest["id"]
    # a valuation of another asset cannot be named
    other = client.post(
        f"/v1/assets/{asset_ids[1]}/valuations",
        json={"as_of": AS_OF.isoformat(), "paths": 500, "seed": 1},
        headers=registrar,
    ).json()
    bad = client.post("/v1/loans/quote", json=_body([aid], valuation_id=other["id"]), headers=bank)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "valuation_id"
