"""The public quote belongs to the exchange: only the asset's own registrar (or an admin)
sets it; a bank's valuation is its own, returned to it, never shown as the asset's quote,
and no other lender can rely on it."""

from __future__ import annotations

import copy

import pytest
from contract_world import AS_OF, SAMPLES, comparable_bodies, cost_bodies, loan_body, signals_csv


@pytest.fixture
def asset(client, make_key) -> tuple[int, dict[str, str]]:
    registrar = make_key("registrar", "tenant-a")
    sample = SAMPLES.assets[0]
    r = client.post(
        "/v1/comparables", json=comparable_bodies(SAMPLES.comparables), headers=registrar
    )
    assert r.status_code == 201, r.text
    r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=registrar)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    r = client.put(
        f"/v1/assets/{aid}/signals",
        content=signals_csv(sample.signals),
        headers={**registrar, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert (
        client.post(
            f"/v1/assets/{aid}/costs", json=cost_bodies(sample.costs), headers=registrar
        ).status_code
        == 201
    )
    return aid, registrar


def _value(client, aid: int, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    r = client.post(
        f"/v1/assets/{aid}/valuations", json={"as_of": AS_OF, "paths": 500, **body}, headers=headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_only_the_owner_or_an_admin_sets_the_public_quote(client, make_key, asset) -> None:
    aid, registrar = asset
    bank = make_key("bank", "tenant-b")
    reader = make_key("risk", "tenant-c")
    assert client.get(f"/v1/quotes/{aid}", headers=reader).status_code == 404
    own = _value(
        client, aid, bank, assumptions={"discount_rate": 0.02}
    )  # a generous rate of its choosing
    assert own["quote"]["public"] is False
    assert client.get(f"/v1/quotes/{aid}", headers=reader).status_code == 404  # no public quote yet
    official = _value(client, aid, registrar)
    assert official["quote"]["public"] is True
    quote = client.get(f"/v1/quotes/{aid}", headers=reader).json()
    assert quote["valuation_id"] == official["id"]
    assert quote["mid"] == official["quote"]["mid"]
    # another bank's later valuation, and another tenant's registrar, move nothing
    _value(client, aid, make_key("bank", "tenant-d"), assumptions={"discount_rate": 0.01})
    _value(client, aid, make_key("registrar", "tenant-e"))
    assert client.get(f"/v1/quotes/{aid}", headers=reader).json()["valuation_id"] == official["id"]
    listed = client.get("/v1/quotes", headers=reader).json()["items"]
    assert [q["valuation_id"] for q in listed if q["asset_id"] == aid] == [official["id"]]
    admin = _value(client, aid, make_key("admin", "tenant-x"))
    assert client.get(f"/v1/quotes/{aid}", headers=reader).json()["valuation_id"] == admin["id"]
    # the stream shows public quotes only
    with client.stream(
        "GET", "/v1/quotes/stream", params={"since_id": 0, "timeout_seconds": 0.5}, headers=reader
    ) as r:
        ids = [
            int(line[4:]) for line in "".join(r.iter_text()).splitlines() if line.startswith("id: ")
        ]
    assert ids == [official["quote"]["id"], admin["quote"]["id"]]


def test_a_lender_cannot_rely_on_another_lenders_own_valuation(client, make_key, asset) -> None:
    aid, registrar = asset
    bank_b, bank_d = make_key("bank", "tenant-b"), make_key("bank", "tenant-d")
    for lender in ("tenant-b", "tenant-d"):  # the owner lets both lend against its asset
        assert (
            client.post(
                f"/v1/assets/{aid}/consents",
                headers=registrar,
                json={
                    "lender_tenant": lender,
                    "amount": 1e9,
                    "currency": "CNY",
                    "expires_on": "2030-12-31",
                },
            ).status_code
            == 201
        )
    private = _value(client, aid, bank_b)
    r = client.post(
        "/v1/loans/quote",
        json=loan_body([aid], valuation_id=private["id"], principal=1e5),
        headers=bank_d,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "valuation_id"
    # with no public valuation, bank d has nothing to rely on; bank b relies on its own
    r = client.post("/v1/loans/quote", json=loan_body([aid], principal=1e5), headers=bank_d)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "valuation_id"
    r = client.post("/v1/loans/quote", json=loan_body([aid], principal=1e5), headers=bank_b)
    assert r.status_code == 200, r.text
    assert r.json()["valuation_id"] == private["id"]
    official = _value(client, aid, registrar)
    r = client.post("/v1/loans/quote", json=loan_body([aid], principal=1e5), headers=bank_d)
    assert r.status_code == 200
    assert r.json()["valuation_id"] == official["id"]
