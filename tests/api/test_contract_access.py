"""API contract: every path and method is mounted (under ``/v1`` except ``/health``),
the role matrix (401 without a valid key, 403 for a role that may not call the endpoint,
``admin`` always allowed, public reads open to every role) and tenant isolation (another
tenant's object is a 404, never a 403).

The role matrix needs no data: authorisation is decided before the object is looked up,
so each endpoint is called with an id that does not exist and the test only asks whether
the answer is (or is not) 401/403.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from contract_world import (
    AS_OF,
    DEAL,
    SAMPLES,
    comparable_bodies,
    cost_bodies,
    loan_body,
    signals_csv,
)

from api.job_queue import get_jobs

PROBLEM = "application/problem+json"
ROLES = ("admin", "registrar", "bank", "fund_manager", "risk")
ANY = ROLES  # every authenticated role


# (method, path, roles that may call it, JSON body or None) -- the API contract's table, plus the
# list and read companions the areas document in README.md.
ENDPOINTS: list[tuple[str, str, tuple[str, ...], Any]] = [
    ("POST", "/v1/assets", ("registrar",), {}),
    ("GET", "/v1/assets", ANY, None),
    ("GET", "/v1/assets/987654", ANY, None),
    ("PATCH", "/v1/assets/987654", ("registrar",), {"status": "active"}),
    ("PUT", "/v1/assets/987654/signals", ("registrar",), []),
    ("GET", "/v1/assets/987654/signals", ANY, None),
    ("POST", "/v1/assets/987654/costs", ("registrar",), {}),
    ("GET", "/v1/assets/987654/costs", ANY, None),
    ("POST", "/v1/comparables", ("registrar",), {}),
    ("GET", "/v1/comparables", ANY, None),
    ("POST", "/v1/assets/987654/valuations", ("bank", "registrar"), {"as_of": AS_OF}),
    ("GET", "/v1/assets/987654/valuations", ANY, None),
    ("GET", "/v1/valuations/987654", ANY, None),
    ("GET", "/v1/quotes/987654", ANY, None),
    ("GET", "/v1/quotes/stream?timeout_seconds=0.01", ANY, None),
    ("POST", "/v1/loans/quote", ("bank",), {}),
    ("POST", "/v1/loans", ("bank",), {}),
    ("GET", "/v1/loans/987654", ("bank", "risk"), None),
    ("GET", "/v1/loans/987654/schedule", ("bank", "risk"), None),
    ("GET", "/v1/loans/987654/risk", ("bank", "risk"), None),
    ("POST", "/v1/loans/987654/revalue", ("bank", "risk"), {}),
    ("GET", "/v1/portfolio/risk", ("bank", "risk"), None),
    ("POST", "/v1/securitizations", ("bank", "fund_manager"), {}),
    ("POST", "/v1/securitizations/987654/price", ("fund_manager", "risk"), {}),
    ("POST", "/v1/data-notes/price", ("fund_manager",), {}),
    ("GET", "/v1/scenarios", ("risk",), None),
    ("POST", "/v1/scenarios", ("risk",), {}),
    ("POST", "/v1/stress-runs", ("risk",), {}),
    ("GET", "/v1/stress-runs/987654", ("risk",), None),
    ("GET", "/v1/stress-runs/987654/results", ("risk",), None),
    # the companions README.md documents
    ("GET", "/v1/quotes", ANY, None),
    ("GET", "/v1/loans", ("bank", "risk"), None),
    ("GET", "/v1/loans/987654/events", ("bank", "risk"), None),
    ("GET", "/v1/securitizations", ("bank", "fund_manager", "risk"), None),
    ("GET", "/v1/securitizations/987654", ("bank", "fund_manager", "risk"), None),
    ("GET", "/v1/securitizations/987654/prices", ("bank", "fund_manager", "risk"), None),
    ("GET", "/v1/stress-runs", ("risk",), None),
    ("POST", "/v1/sensitivities", ("risk",), {"paths": 16}),
]


def _call(client, method: str, path: str, headers: dict[str, str], body: Any):
    if body is None:
        return client.request(method, path, headers=headers)
    return client.request(method, path, json=body, headers=headers)


def _assert_problem(r, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    doc = r.json()
    assert {"type", "title", "status", "detail"} <= set(doc), doc
    assert doc["status"] == status
    return doc


# ----------------------------------------------------------------------------- mounting


def test_every_contract_path_is_mounted_under_v1(app) -> None:
    spec = app.openapi()
    paths = spec["paths"]
    expected = {
        ("get", "/health"),
        ("post", "/v1/assets"),
        ("get", "/v1/assets"),
        ("get", "/v1/assets/{asset_id}"),
        ("put", "/v1/assets/{asset_id}/signals"),
        ("get", "/v1/assets/{asset_id}/signals"),
        ("post", "/v1/assets/{asset_id}/costs"),
        ("post", "/v1/comparables"),
        ("post", "/v1/assets/{asset_id}/valuations"),
        ("get", "/v1/assets/{asset_id}/valuations"),
        ("get", "/v1/valuations/{valuation_id}"),
        ("get", "/v1/quotes/{asset_id}"),
        ("get", "/v1/quotes/stream"),
        ("post", "/v1/loans/quote"),
        ("post", "/v1/loans"),
        ("get", "/v1/loans/{loan_id}"),
        ("get", "/v1/loans/{loan_id}/schedule"),
        ("get", "/v1/loans/{loan_id}/risk"),
        ("post", "/v1/loans/{loan_id}/revalue"),
        ("get", "/v1/portfolio/risk"),
        ("post", "/v1/securitizations"),
        ("post", "/v1/securitizations/{securitization_id}/price"),
        ("post", "/v1/data-notes/price"),
        ("get", "/v1/scenarios"),
        ("post", "/v1/scenarios"),
        ("post", "/v1/stress-runs"),
        ("get", "/v1/stress-runs/{run_id}"),
        ("get", "/v1/stress-runs/{run_id}/results"),
    }
    missing = {(m, p) for m, p in expected if m not in paths.get(p, {})}
    assert not missing, sorted(missing)
    unversioned = [p for p in paths if not p.startswith("/v1/") and p != "/health"]
    assert unversioned == []


def test_health_is_open_and_docs_are_served(client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] in ("sqlite", "postgresql")
    assert isinstance(body["version"], str)
    assert body["version"]
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    # the resource paths are not served without the version prefix
    assert client.get("/assets").status_code == 404


# ----------------------------------------------------------------------------- role matrix


@pytest.mark.parametrize(
    ("method", "path", "roles", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_role_matrix(client, make_key, method, path, roles, body) -> None:
    # no key, a malformed header, an unknown key: 401 with a Bearer challenge
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic abc"}):
        r = _call(client, method, path, headers, body)
        _assert_problem(r, 401)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    for role in ROLES:
        r = _call(client, method, path, make_key(role, "tenant-z"), body)
        if role == "admin" or role in roles:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
            assert r.status_code < 500, (role, r.text)
        else:
            doc = _assert_problem(r, 403)
            assert role in doc["detail"]


# ----------------------------------------------------------------------------- a small world


def _register(client, headers) -> list[int]:
    ids = []
    for sample in SAMPLES.assets:
        r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=headers)
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        r = client.put(
            f"/v1/assets/{aid}/signals",
            content=signals_csv(sample.signals),
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        r = client.post(f"/v1/assets/{aid}/costs", json=cost_bodies(sample.costs), headers=headers)
        assert r.status_code == 201, r.text
        ids.append(aid)
    r = client.post("/v1/comparables", json=comparable_bodies(SAMPLES.comparables), headers=headers)
    assert r.status_code == 201, r.text
    return ids


@pytest.fixture
def world(client, make_key) -> dict[str, Any]:
    """Tenant-a: two registered assets with signals, costs, comparables, one valuation and one loan."""
    reg = make_key("registrar", "tenant-a")
    bank = make_key("bank", "tenant-a")
    ids = _register(client, reg)
    r = client.post(
        f"/v1/assets/{ids[0]}/valuations",
        json={"as_of": AS_OF, "currency": "CNY", "paths": 200, "seed": 1},
        headers=reg,
    )
    assert r.status_code == 201, r.text
    valuation = r.json()
    q = client.post("/v1/loans/quote", json=loan_body(ids[:1]), headers=bank)
    assert q.status_code == 200, q.text
    principal = round(q.json()["max_principal"] / 4, 2)
    r = client.post(
        "/v1/loans", json=loan_body(ids[:1], principal=principal, start_date=AS_OF), headers=bank
    )
    assert r.status_code == 201, r.text
    return {
        "asset_ids": ids,
        "valuation": valuation,
        "loan": r.json(),
        "registrar": reg,
        "bank": bank,
    }


# ----------------------------------------------------------------------------- public reads


@pytest.mark.parametrize("role", ROLES)
def test_public_record_is_readable_by_every_role_of_any_tenant(
    client, make_key, world, role
) -> None:
    aid = world["asset_ids"][0]
    vid = world["valuation"]["id"]
    h = make_key(role, "tenant-other")
    for path in (
        "/v1/assets",
        f"/v1/assets/{aid}",
        f"/v1/assets/{aid}/signals",
        f"/v1/assets/{aid}/signals?metric=revenue",
        f"/v1/assets/{aid}/valuations",
        f"/v1/valuations/{vid}",
        f"/v1/quotes/{aid}",
    ):
        r = client.get(path, headers=h)
        assert r.status_code == 200, (path, r.text)


# ----------------------------------------------------------------------------- owner-only writes


def test_other_tenants_registrar_gets_404_on_signals_costs_and_status(
    client, make_key, world
) -> None:
    aid = world["asset_ids"][0]
    stranger = make_key("registrar", "tenant-b")
    before_signals = client.get(f"/v1/assets/{aid}/signals?limit=500", headers=stranger).json()[
        "items"
    ]
    before_costs = client.get(f"/v1/assets/{aid}/costs?limit=500", headers=stranger).json()["items"]
    r = client.put(
        f"/v1/assets/{aid}/signals",
        json=[{"month": "2025-01", "metric": "revenue", "value": 1.0}],
        headers=stranger,
    )
    _assert_problem(r, 404)
    r = client.put(
        f"/v1/assets/{aid}/signals",
        content="month,metric,value\n2025-01,revenue,1\n",
        headers={**stranger, "Content-Type": "text/csv"},
    )
    _assert_problem(r, 404)
    r = client.post(
        f"/v1/assets/{aid}/costs",
        json={
            "category": "storage",
            "amount": 1.0,
            "currency": "CNY",
            "incurred_on": "2025-01-01",
            "recurring_months": 0,
        },
        headers=stranger,
    )
    _assert_problem(r, 404)
    r = client.patch(f"/v1/assets/{aid}", json={"status": "retired"}, headers=stranger)
    _assert_problem(r, 404)
    # the 404 is the same as for an asset that does not exist
    missing = client.patch("/v1/assets/987654", json={"status": "retired"}, headers=stranger)
    assert missing.json()["title"] == r.json()["title"]
    assert (
        client.get(f"/v1/assets/{aid}/signals?limit=500", headers=stranger).json()["items"]
        == before_signals
    )
    assert (
        client.get(f"/v1/assets/{aid}/costs?limit=500", headers=stranger).json()["items"]
        == before_costs
    )
    assert client.get(f"/v1/assets/{aid}", headers=stranger).json()["status"] == "registered"
    # the owner's registrar may
    r = client.patch(f"/v1/assets/{aid}", json={"status": "active"}, headers=world["registrar"])
    assert r.status_code == 200
    assert r.json()["status"] == "active"


# ----------------------------------------------------------------------------- tenant isolation


def test_loans_are_tenant_scoped(client, make_key, world) -> None:
    lid = world["loan"]["id"]
    for role in ("bank", "risk", "admin"):
        other = make_key(role, "tenant-b")
        for path in (f"/v1/loans/{lid}", f"/v1/loans/{lid}/schedule", f"/v1/loans/{lid}/risk"):
            _assert_problem(client.get(path, headers=other), 404)
        _assert_problem(client.post(f"/v1/loans/{lid}/revalue", json={}, headers=other), 404)
        assert client.get("/v1/portfolio/risk", headers=other).json()["expected_loss"] == 0
    own = make_key("risk", "tenant-a")
    assert client.get(f"/v1/loans/{lid}", headers=own).status_code == 200
    # a missing loan answers exactly like another tenant's
    a = client.get("/v1/loans/987654", headers=make_key("bank", "tenant-b")).json()
    b = client.get(f"/v1/loans/{lid}", headers=make_key("bank", "tenant-b")).json()
    assert a["title"] == b["title"]
    assert a["status"] == b["status"] == 404


def test_securitizations_are_tenant_scoped(client, make_key) -> None:
    fm = make_key("fund_manager", "tenant-a")
    r = client.post("/v1/securitizations", json=DEAL, headers=fm)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    for role in ("fund_manager", "risk", "bank", "admin"):
        other = make_key(role, "tenant-b")
        if role != "risk":  # risk may price but not read the deal list in the API contract
            _assert_problem(client.get(f"/v1/securitizations/{sid}", headers=other), 404)
        if role in ("fund_manager", "risk", "admin"):
            r = client.post(
                f"/v1/securitizations/{sid}/price",
                json={"paths": 200, "seed": 1, "correlation": 0.2},
                headers=other,
            )
            _assert_problem(r, 404)
    assert (
        client.get("/v1/securitizations", headers=make_key("fund_manager", "tenant-b")).json()[
            "items"
        ]
        == []
    )
    r = client.post(
        f"/v1/securitizations/{sid}/price",
        json={"paths": 200, "seed": 1, "correlation": 0.2},
        headers=make_key("risk", "tenant-a"),
    )
    assert r.status_code == 200, r.text


def test_scenarios_and_stress_runs_are_tenant_scoped(client, app, make_key) -> None:
    risk_a = make_key("risk", "tenant-a")
    risk_b = make_key("risk", "tenant-b")
    r = client.post(
        "/v1/scenarios",
        json={"name": "a_private", "horizon_months": 12, "shocks": {"pd_multiplier": 2.0}},
        headers=risk_a,
    )
    assert r.status_code == 201, r.text
    names_b = [
        s["name"] for s in client.get("/v1/scenarios?limit=500", headers=risk_b).json()["items"]
    ]
    assert "a_private" not in names_b
    # tenant b cannot run tenant a's scenario: it does not exist for b (never a 403)
    r = client.post(
        "/v1/stress-runs", json={"scenario": "a_private", "paths": 16, "seed": 1}, headers=risk_b
    )
    assert r.status_code in (404, 422), r.text
    assert r.status_code != 403
    # nor extend it: to b it does not exist (and nothing is stored)
    r = client.post(
        "/v1/scenarios", json={"name": "b_child0", "extends": "a_private"}, headers=risk_b
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "extends"
    # tenant b may store its own scenario of the same name
    r = client.post("/v1/scenarios", json={"name": "a_private", "shocks": {}}, headers=risk_b)
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/stress-runs", json={"scenario": "a_private", "paths": 16, "seed": 1}, headers=risk_a
    )
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    assert get_jobs(app).wait(timeout=60)
    assert client.get(f"/v1/stress-runs/{rid}", headers=risk_a).status_code == 200
    for role in ("risk", "admin"):
        other = make_key(role, "tenant-b")
        _assert_problem(client.get(f"/v1/stress-runs/{rid}", headers=other), 404)
        _assert_problem(client.get(f"/v1/stress-runs/{rid}/results", headers=other), 404)
        _assert_problem(
            client.get(f"/v1/stress-runs/{rid}/results", headers={**other, "Accept": "text/csv"}),
            404,
        )
    assert client.get("/v1/stress-runs", headers=risk_b).json()["items"] == []
    # b's scenarios now extend b's own a_private
    r = client.post(
        "/v1/scenarios", json={"name": "b_child", "extends": "a_private"}, headers=risk_b
    )
    assert r.status_code == 201, r.text
    names_b = [
        x["name"] for x in client.get("/v1/scenarios?limit=500", headers=risk_b).json()["items"]
    ]
    assert "b_child0" not in names_b
    assert "b_child" in names_b


def test_stress_book_and_pools_hold_only_the_tenants_objects(client, app, make_key, world) -> None:
    """Tenant b's stress run and securitization pools never see tenant a's loans."""
    lid = world["loan"]["id"]
    fm_b = make_key("fund_manager", "tenant-b")
    deal = {**DEAL, "pool": {"loan_ids": [lid]}}
    r = client.post("/v1/securitizations", json=deal, headers=fm_b)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith("pool.loan_ids")
    risk_b = make_key("risk", "tenant-b")
    r = client.post(
        "/v1/stress-runs", json={"scenario": "baseline", "paths": 16, "seed": 1}, headers=risk_b
    )
    assert r.status_code == 202, r.text
    assert get_jobs(app).wait(timeout=60)
    rid = r.json()["id"]
    status = client.get(f"/v1/stress-runs/{rid}", headers=risk_b).json()
    assert status["status"] == "succeeded", status
    res = client.get(f"/v1/stress-runs/{rid}/results", headers=risk_b).json()
    assert res["positions"] == [], res["positions"]  # tenant b holds nothing
    risk_a = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/stress-runs", json={"scenario": "baseline", "paths": 16, "seed": 1}, headers=risk_a
    )
    assert get_jobs(app).wait(timeout=60)
    res = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk_a).json()
    assert [p["id"] for p in res["positions"] if p["kind"] == "loan"] == [str(lid)]


def test_a_revoked_key_is_401(client, session_factory) -> None:
    from models.security import create_api_key, revoke_api_key

    with session_factory() as session:
        plain, row = create_api_key(session, role="admin", tenant="tenant-a", label="test")
        session.commit()
        key_id = row.id
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/v1/assets", headers=headers).status_code == 200
    with session_factory() as session:
        assert revoke_api_key(session, key_id) is not None
        session.commit()
    _assert_problem(client.get("/v1/assets", headers=headers), 401)
