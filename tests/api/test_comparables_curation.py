"""Comparables are curated market evidence: checked after rounding, bounded per request,
removable by the tenant that recorded them (or an admin), and one bad stored row never
breaks a read or the market approach."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from api.services.comparables import MAX_COMPARABLES_PER_REQUEST, comparables_frame
from models.audit import AuditEntry
from models.registry import Comparable

PROBLEM = "application/problem+json"


def comparable(price: float = 1_250_000.0, **changes) -> dict:
    row = {
        "category": "financial",
        "price": price,
        "currency": "CNY",
        "traded_on": "2025-03-01",
        "records": 120_000,
        "quality_score": 0.8,
        "rights_scope": "processing_use",
    }
    row.update(changes)
    return row


def count(session_factory) -> int:
    with session_factory() as s:
        return s.execute(sa.select(sa.func.count()).select_from(Comparable)).scalar_one()


def test_price_that_rounds_to_zero_is_422_naming_price(client, make_key, session_factory) -> None:
    registrar = make_key("registrar", "tenant-a")
    r = client.post("/v1/comparables", json=comparable(0.001), headers=registrar)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == ["price"]
    batch = [comparable(), comparable(0.004)]
    r = client.post("/v1/comparables", json=batch, headers=registrar)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["1.price"]
    assert count(session_factory) == 0  # all or none
    assert client.get("/v1/comparables", headers=registrar).status_code == 200


def test_a_stored_non_positive_row_breaks_no_read(client, make_key, session_factory) -> None:
    """A row stored under older rules (price 0.00) is listed, kept out of the market
    approach's evidence, and can be withdrawn."""
    with session_factory() as s:
        s.add(
            Comparable(
                category="financial",
                price=Decimal("0.00"),
                currency="CNY",
                traded_on=date(2025, 1, 1),
                records=10,
                quality_score=0.5,
                rights_scope="processing_use",
                tenant="tenant-a",
            )
        )
        s.commit()
    other = make_key("risk", "tenant-z")
    r = client.get("/v1/comparables", params={"category": "financial"}, headers=other)
    assert r.status_code == 200, r.text
    assert [i["price"] for i in r.json()["items"]] == [0.0]
    with session_factory() as s:
        assert comparables_frame(s, category="financial").empty


def test_requests_are_bounded(client, make_key, session_factory) -> None:
    registrar = make_key("registrar", "tenant-a")
    rows = [comparable()] * (MAX_COMPARABLES_PER_REQUEST + 1)
    r = client.post("/v1/comparables", json=rows, headers=registrar)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    assert count(session_factory) == 0


def test_withdrawn_by_its_tenant_or_an_admin_only(client, make_key, session_factory) -> None:
    owner = make_key("registrar", "tenant-a")
    stranger = make_key("registrar", "tenant-b")
    bank = make_key("bank", "tenant-a")
    admin = make_key("admin", "ops")
    ids = [
        i["id"]
        for i in client.post(
            "/v1/comparables", json=[comparable(), comparable(2e6)], headers=owner
        ).json()["items"]
    ]
    assert client.delete(f"/v1/comparables/{ids[0]}", headers=stranger).status_code == 404
    assert client.delete(f"/v1/comparables/{ids[0]}", headers=bank).status_code == 403
    assert client.delete(f"/v1/comparables/{ids[0]}", headers=owner).status_code == 204
    assert client.delete(f"/v1/comparables/{ids[0]}", headers=owner).status_code == 404
    assert client.delete(f"/v1/comparables/{ids[1]}", headers=admin).status_code == 204
    assert count(session_factory) == 0
    with session_factory() as s:
        deletes = (
            s.execute(
                sa.select(AuditEntry.entity_id).where(AuditEntry.action == "comparables.delete")
            )
            .scalars()
            .all()
        )
    assert sorted(deletes) == sorted(str(i) for i in ids)
    assert client.delete("/v1/comparables/99999999999999999999", headers=owner).status_code == 422


def test_corrected_by_its_tenant_or_an_admin_only(client, make_key, session_factory) -> None:
    """PUT /v1/comparables/{id}: a whole new record, validated as on creation, audited with
    the figures before and after; another tenant's row is a 404 and nothing changes."""
    from models.audit_state import verify_states

    owner = make_key("registrar", "tenant-a")
    stranger = make_key("registrar", "tenant-b")
    admin = make_key("admin", "ops")
    cid = client.post("/v1/comparables", json=comparable(), headers=owner).json()["items"][0]["id"]
    fixed = comparable(1_300_000.0, records=150_000)
    assert client.put(f"/v1/comparables/{cid}", json=fixed, headers=stranger).status_code == 404
    assert (
        client.put(f"/v1/comparables/{cid}", json=fixed, headers=make_key("bank")).status_code
        == 403
    )
    r = client.put(f"/v1/comparables/{cid}", json=comparable(0.001), headers=owner)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "price"
    r = client.put(f"/v1/comparables/{cid}", json=fixed, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["price"] == 1_300_000.0
    assert r.json()["records"] == 150_000
    assert r.json()["id"] == cid
    assert r.json()["tenant"] == "tenant-a"
    r = client.put(f"/v1/comparables/{cid}", json=comparable(1_310_000.0), headers=admin)
    assert r.status_code == 200
    assert r.json()["price"] == 1_310_000.0
    with session_factory() as s:
        entries = (
            s.execute(
                sa.select(AuditEntry.payload).where(AuditEntry.action == "comparables.correct")
            )
            .scalars()
            .all()
        )
        assert len(entries) == 2
        assert '"before"' in entries[0]
        assert verify_states(s).ok  # the corrected row is its last audited state
    assert client.put("/v1/comparables/987654", json=fixed, headers=admin).status_code == 404
