"""Pledging another tenant's asset needs the owner's consent; a lender sees only its own
exposure and the asset's remaining capacity, never another lender's amounts."""

from __future__ import annotations

import copy

import pytest
from contract_world import AS_OF, SAMPLES, comparable_bodies, cost_bodies, loan_body, signals_csv


@pytest.fixture
def owned(client, make_key) -> tuple[int, dict[str, str]]:
    registrar = make_key("registrar", "owner")
    sample = SAMPLES.assets[0]
    assert (
        client.post(
            "/v1/comparables", json=comparable_bodies(SAMPLES.comparables), headers=registrar
        ).status_code
        == 201
    )
    r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=registrar)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    assert (
        client.put(
            f"/v1/assets/{aid}/signals",
            content=signals_csv(sample.signals),
            headers={**registrar, "Content-Type": "text/csv"},
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/v1/assets/{aid}/costs", json=cost_bodies(sample.costs), headers=registrar
        ).status_code
        == 201
    )
    r = client.post(
        f"/v1/assets/{aid}/valuations", json={"as_of": AS_OF, "paths": 1000}, headers=registrar
    )
    assert r.status_code == 201, r.text
    return aid, registrar


def test_another_tenants_asset_needs_the_owners_consent(client, make_key, owned) -> None:
    aid, registrar = owned
    bank_b, bank_c = make_key("bank", "lender-b"), make_key("bank", "lender-c")
    r = client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_b)
    assert r.status_code == 403
    assert f"Asset {aid}" in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.post(
        "/v1/loans",
        json=loan_body([aid], principal=1e5, borrower={"name": "b", "rating": "BBB"}),
        headers=bank_b,
    ).status_code in (403, 422)
    # only the owner gives consent; another tenant's registrar sees no such asset
    consent = {
        "lender_tenant": "lender-b",
        "amount": 200_000.0,
        "currency": "cny",
        "expires_on": "2030-12-31",
    }
    assert (
        client.post(
            f"/v1/assets/{aid}/consents", json=consent, headers=make_key("registrar", "intruder")
        ).status_code
        == 404
    )
    # found by schemathesis (500s): an unknown currency, an amount that rounds to nothing
    for bad, field in (
        ({"currency": "AAA"}, "currency"),
        ({"amount": 5e-324}, "amount"),
        ({"amount": 0.004}, "amount"),
    ):
        r = client.post(f"/v1/assets/{aid}/consents", json={**consent, **bad}, headers=registrar)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field, r.text
    r = client.post(f"/v1/assets/{aid}/consents", json=consent, headers=registrar)
    assert r.status_code == 201, r.text
    assert r.json()["currency"] == "CNY"
    assert r.json()["lender_tenant"] == "lender-b"
    assert [
        c["id"] for c in client.get(f"/v1/assets/{aid}/consents", headers=registrar).json()
    ] == [r.json()["id"]]
    q = client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_b)
    assert q.status_code == 200, q.text
    asset = q.json()["assets"][0]
    assert asset["available_capacity"] <= 200_000.0 + 1e-6
    assert asset["pledged"] == 0.0
    assert client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_c).status_code == 403
    # a consent in another currency is none (amounts are never converted)
    usd = {**consent, "lender_tenant": "lender-c", "currency": "USD"}
    assert client.post(f"/v1/assets/{aid}/consents", json=usd, headers=registrar).status_code == 201
    assert client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_c).status_code == 403
    # an expired consent is no consent
    old = {**consent, "lender_tenant": "lender-c", "expires_on": "2020-01-01"}
    assert client.post(f"/v1/assets/{aid}/consents", json=old, headers=registrar).status_code == 201
    assert client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_c).status_code == 403


def test_a_lender_sees_only_its_own_exposure(client, make_key, owned) -> None:
    aid, registrar = owned
    bank_b, bank_c = make_key("bank", "lender-b"), make_key("bank", "lender-c")
    for lender in ("lender-b", "lender-c"):
        r = client.post(
            f"/v1/assets/{aid}/consents",
            headers=registrar,
            json={
                "lender_tenant": lender,
                "amount": 1e9,
                "currency": "CNY",
                "expires_on": "2030-12-31",
            },
        )
        assert r.status_code == 201, r.text
    q = client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_c).json()
    principal = round(q["max_principal"] * 0.4, 2)
    r = client.post(
        "/v1/loans",
        headers=bank_c,
        json=loan_body(
            [aid], principal=principal, borrower={"name": "c", "rating": "BBB"}, start_date=AS_OF
        ),
    )
    assert r.status_code == 201, r.text
    seen = client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_b).json()["assets"][0]
    assert seen["pledged"] == 0.0  # lender c's pledge is not shown to lender b
    assert f"{principal:,.2f}" not in str(seen)
    own = client.post("/v1/loans/quote", json=loan_body([aid]), headers=bank_c).json()["assets"][0]
    assert own["pledged"] > 0
    # a loan beyond the remaining capacity: the error names what is left, not who holds the rest
    r = client.post(
        "/v1/loans",
        headers=bank_b,
        json=loan_body(
            [aid],
            principal=round(seen["lending_value"], 2),
            borrower={"name": "b", "rating": "BBB"},
            start_date=AS_OF,
            policy_exception={"reason": "test"},
        ),
    )
    assert r.status_code in (409, 422)
    assert "already pledged" not in r.text
