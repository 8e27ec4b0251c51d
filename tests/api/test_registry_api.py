"""Registry endpoints of the API contract: assets, signals, costs, comparables; auth, tenancy, errors."""

from __future__ import annotations

import copy
import hashlib
import re

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry, verify_chain
from models.registry import Signal
from samples.data_assets import generate_samples

PROBLEM = "application/problem+json"
SAMPLES = generate_samples(5, n_assets=10)


def body(i: int = 0) -> dict:
    return copy.deepcopy(SAMPLES.assets[i].profile)


def csv_of(frame) -> str:
    lines = ["month,metric,value"]
    lines += [
        f"{m:%Y-%m},{k},{v!r}"
        for m, k, v in frame[["month", "metric", "value"]].itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def snapshot(session_factory) -> list[tuple]:
    with session_factory() as s:
        rows = s.execute(
            sa.select(Signal.asset_id, Signal.metric, Signal.month, Signal.value)
        ).all()
    return sorted(tuple(r) for r in rows)


@pytest.fixture
def registrar(make_key):
    return make_key("registrar", "tenant-a")


@pytest.fixture
def asset_id(client, registrar) -> int:
    r = client.post("/v1/assets", json=body(0), headers=registrar)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def is_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    doc = r.json()
    assert doc["status"] == status
    assert {"type", "title", "status", "detail"} <= set(doc)
    return doc


# ------------------------------------------------------------------ assets


def test_register_read_and_audit(client, registrar, session_factory) -> None:
    r = client.post("/v1/assets", json=body(0), headers=registrar)
    assert r.status_code == 201
    created = r.json()
    assert re.fullmatch(r"DA-\d{4}-\d{6}", created["certificate_no"])
    assert created["owner_tenant"] == "tenant-a"
    assert created["status"] == "registered"
    assert created["rights"] == {**body(0)["rights"], "term_months": None}
    assert created["quality"] == body(0)["quality"]

    second = client.post("/v1/assets", json=body(1), headers=registrar).json()
    assert second["certificate_no"] != created["certificate_no"]

    with session_factory() as s:
        entries = (
            s.execute(
                sa.select(AuditEntry).where(AuditEntry.entity != "api_key").order_by(AuditEntry.seq)
            )
            .scalars()
            .all()
        )
        assert [e.action for e in entries] == ["asset.register", "asset.register"]
        assert entries[0].entity_id == str(created["id"])
        assert verify_chain(s).ok


def test_assets_are_readable_by_every_role_of_any_tenant(client, asset_id, make_key) -> None:
    for role in ("bank", "fund_manager", "risk", "registrar", "admin"):
        r = client.get(f"/v1/assets/{asset_id}", headers=make_key(role, "tenant-b"))
        assert r.status_code == 200
        assert r.json()["id"] == asset_id
    r = client.get("/v1/assets", headers=make_key("bank", "tenant-b"))
    assert [a["id"] for a in r.json()["items"]] == [asset_id]


def test_register_with_an_uploaded_file_computes_the_fingerprint(client, registrar) -> None:
    import json

    meta = body(2)
    del meta["fingerprint_sha256"]
    content = b"id,value\n1,42\n" * 1000
    r = client.post(
        "/v1/assets",
        data={"asset": json.dumps(meta)},
        files={"file": ("data.csv", content, "text/csv")},
        headers=registrar,
    )
    assert r.status_code == 201, r.text
    assert r.json()["fingerprint_sha256"] == hashlib.sha256(content).hexdigest()


def test_fingerprint_is_stored_lower_case_and_unique(client, registrar) -> None:
    b = body(3)
    b["fingerprint_sha256"] = b["fingerprint_sha256"].upper()
    r = client.post("/v1/assets", json=b, headers=registrar)
    assert r.status_code == 201
    assert r.json()["fingerprint_sha256"] == body(3)["fingerprint_sha256"]
    again = client.post("/v1/assets", json=body(3), headers=registrar)
    doc = is_problem(again, 409)
    assert r.json()["certificate_no"] in doc["detail"]


def test_list_filters_by_category_and_paginates(client, registrar, make_key) -> None:
    ids = [
        client.post("/v1/assets", json=body(i), headers=registrar).json()["id"] for i in range(10)
    ]
    reader = make_key("risk", "tenant-z")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/assets", params=params, headers=reader).json()
        assert len(page["items"]) <= 3
        seen += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 4
    consumer = client.get("/v1/assets", params={"category": "consumer"}, headers=reader).json()
    assert {a["category"] for a in consumer["items"]} == {"consumer"}
    assert len(consumer["items"]) == 2
    assert consumer["next_cursor"] is None
    default = client.get("/v1/assets", headers=reader).json()
    assert len(default["items"]) == 10
    assert default["next_cursor"] is None


# ------------------------------------------------------------------ signals


def test_csv_import_is_idempotent(client, registrar, asset_id, session_factory) -> None:
    frame = SAMPLES.assets[0].signals
    text = csv_of(frame)
    headers = registrar | {"Content-Type": "text/csv"}
    first = client.put(f"/v1/assets/{asset_id}/signals", content=text, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"inserted": len(frame), "updated": 0, "unchanged": 0}
    before, audits = snapshot(session_factory), count(session_factory, AuditEntry)

    second = client.put(f"/v1/assets/{asset_id}/signals", content=text, headers=headers)
    assert second.json() == {"inserted": 0, "updated": 0, "unchanged": len(frame)}
    assert snapshot(session_factory) == before
    assert count(session_factory, AuditEntry) == audits  # a no-op writes nothing, not even audit

    # change one value: exactly one update
    lines = text.splitlines()
    month, metric, _ = lines[1].split(",")
    lines[1] = f"{month},{metric},1.5"
    third = client.put(f"/v1/assets/{asset_id}/signals", content="\n".join(lines), headers=headers)
    assert third.json() == {"inserted": 0, "updated": 1, "unchanged": len(frame) - 1}
    assert count(session_factory, AuditEntry) == audits + 1


def test_json_import_and_read_back(client, registrar, asset_id, make_key) -> None:
    rows = [
        {"month": "2025-01", "metric": "revenue", "value": 1200.0},
        {"month": "2025-02", "metric": "revenue", "value": 1300},
        {"month": "2025-01", "metric": "api_calls", "value": 48000},
    ]
    r = client.put(f"/v1/assets/{asset_id}/signals", json=rows, headers=registrar)
    assert r.json() == {"inserted": 3, "updated": 0, "unchanged": 0}
    reader = make_key("fund_manager", "tenant-b")
    got = client.get(f"/v1/assets/{asset_id}/signals", headers=reader).json()
    assert got["asset_id"] == asset_id
    assert got["items"] == [
        {"month": "2025-01", "metric": "api_calls", "value": 48000.0},
        {"month": "2025-01", "metric": "revenue", "value": 1200.0},
        {"month": "2025-02", "metric": "revenue", "value": 1300.0},
    ]
    only = client.get(
        f"/v1/assets/{asset_id}/signals", params={"metric": "revenue"}, headers=reader
    )
    assert [i["month"] for i in only.json()["items"]] == ["2025-01", "2025-02"]


def test_signals_paginate_by_metric_and_month(client, registrar, asset_id) -> None:
    frame = SAMPLES.assets[0].signals
    client.put(
        f"/v1/assets/{asset_id}/signals",
        content=csv_of(frame),
        headers=registrar | {"Content-Type": "text/csv"},
    )
    got, cursor = [], None
    while True:
        params = {"limit": 40} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/assets/{asset_id}/signals", params=params, headers=registrar).json()
        got += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(got) == len(frame)
    keys = [(i["metric"], i["month"]) for i in got]
    assert keys == sorted(keys)


BAD_ROWS = [
    ("2025-03,revenue,-5", "rows[3].value"),
    ("2025-03,revenue,abc", "rows[3].value"),
    ("2025-03,revenue,nan", "rows[3].value"),
    ("2025-03,revenue,inf", "rows[3].value"),
    ("2025-03,revenue,", "rows[3].value"),
    ("2025-13,revenue,10", "rows[3].month"),
    ("2025/03,revenue,10", "rows[3].month"),
    ("March,revenue,10", "rows[3].month"),
    ("2025-03,profit,10", "rows[3].metric"),
    ("2025-01,revenue,10", "rows[3].month"),  # repeats row 1
    ("2025-03,revenue", "rows[3].row"),
]


@pytest.mark.parametrize(("bad_line", "field"), BAD_ROWS)
def test_one_bad_csv_row_rejects_the_whole_batch(
    client, registrar, asset_id, session_factory, bad_line, field
) -> None:
    text = (
        "month,metric,value\n2025-01,revenue,10\n2025-02,revenue,11\n"
        + bad_line
        + "\n2025-04,revenue,12\n"
    )
    audits = count(session_factory, AuditEntry)
    r = client.put(
        f"/v1/assets/{asset_id}/signals",
        content=text,
        headers=registrar | {"Content-Type": "text/csv"},
    )
    doc = is_problem(r, 422)
    assert doc["errors"][0]["field"] == field
    assert "Row 3" in doc["errors"][0]["message"]
    assert "nothing was written" in doc["detail"]
    assert count(session_factory, Signal) == 0  # rows 1 and 2 were not written either
    assert count(session_factory, AuditEntry) == audits


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"month": "2025-01", "metric": "revenue", "value": "12"}], "rows[1].value"),
        ([{"month": "2025-01", "metric": "revenue", "value": True}], "rows[1].value"),
        ([{"month": "2025-01", "metric": "revenue"}], "rows[1].value"),
        ([{"month": "2025-01", "metric": "revenue", "value": 1, "unit": "CNY"}], "rows[1].unit"),
        ([{"month": 202501, "metric": "revenue", "value": 1}], "rows[1].month"),
        (["2025-01,revenue,1"], "rows[1].row"),
        ([], "rows"),
    ],
)
def test_bad_json_rows_are_rejected(
    client, registrar, asset_id, session_factory, rows, field
) -> None:
    r = client.put(f"/v1/assets/{asset_id}/signals", json=rows, headers=registrar)
    assert is_problem(r, 422)["errors"][0]["field"] == field
    assert count(session_factory, Signal) == 0


def test_bad_csv_header_and_encoding(client, registrar, asset_id) -> None:
    headers = registrar | {"Content-Type": "text/csv"}
    r = client.put(
        f"/v1/assets/{asset_id}/signals",
        content="date,metric,value\n2025-01,revenue,1\n",
        headers=headers,
    )
    assert is_problem(r, 422)["errors"][0]["field"] == "header"
    r = client.put(f"/v1/assets/{asset_id}/signals", content=b"\xff\xfe", headers=headers)
    assert is_problem(r, 422)["errors"][0]["field"] == "body"
    r = client.put(f"/v1/assets/{asset_id}/signals", content="", headers=headers)
    is_problem(r, 422)


# ------------------------------------------------------------------ tenancy and roles


def test_another_tenants_registrar_gets_404(client, asset_id, make_key, session_factory) -> None:
    other = make_key("registrar", "tenant-b")
    rows = [{"month": "2025-01", "metric": "revenue", "value": 1.0}]
    is_problem(client.put(f"/v1/assets/{asset_id}/signals", json=rows, headers=other), 404)
    cost = {"category": "storage", "amount": 10.0, "currency": "CNY", "incurred_on": "2025-01-01"}
    is_problem(client.post(f"/v1/assets/{asset_id}/costs", json=cost, headers=other), 404)
    # an admin of another tenant does not own it either
    is_problem(
        client.put(
            f"/v1/assets/{asset_id}/signals", json=rows, headers=make_key("admin", "tenant-b")
        ),
        404,
    )
    # the same 404 as for an asset that does not exist
    missing = client.put("/v1/assets/999999/signals", json=rows, headers=other).json()
    theirs = client.put(f"/v1/assets/{asset_id}/signals", json=rows, headers=other).json()
    assert missing["detail"].replace("999999", "X") == theirs["detail"].replace(str(asset_id), "X")
    assert count(session_factory, Signal) == 0
    # the owner tenant's admin may write
    ok = client.put(
        f"/v1/assets/{asset_id}/signals", json=rows, headers=make_key("admin", "tenant-a")
    )
    assert ok.status_code == 200


def test_status_change_by_the_owner_only(
    client, registrar, asset_id, make_key, session_factory
) -> None:
    r = client.patch(f"/v1/assets/{asset_id}", json={"status": "suspended"}, headers=registrar)
    assert r.status_code == 200
    assert r.json()["status"] == "suspended"
    audits = count(session_factory, AuditEntry)
    same = client.patch(f"/v1/assets/{asset_id}", json={"status": "suspended"}, headers=registrar)
    assert same.status_code == 200
    assert count(session_factory, AuditEntry) == audits
    other = make_key("registrar", "tenant-b")
    is_problem(
        client.patch(f"/v1/assets/{asset_id}", json={"status": "active"}, headers=other), 404
    )
    is_problem(
        client.patch(f"/v1/assets/{asset_id}", json={"status": "active"}, headers=make_key("bank")),
        403,
    )
    bad = client.patch(f"/v1/assets/{asset_id}", json={"status": "deleted"}, headers=registrar)
    assert is_problem(bad, 422)["errors"][0]["field"] == "status"
    assert client.get(f"/v1/assets/{asset_id}", headers=other).json()["status"] == "suspended"


@pytest.mark.parametrize("role", ["bank", "fund_manager", "risk"])
def test_registrar_only_endpoints_refuse_other_roles(client, asset_id, make_key, role) -> None:
    key = make_key(role, "tenant-a")
    is_problem(client.post("/v1/assets", json=body(4), headers=key), 403)
    is_problem(client.put(f"/v1/assets/{asset_id}/signals", json=[], headers=key), 403)
    is_problem(client.post(f"/v1/assets/{asset_id}/costs", json={}, headers=key), 403)
    is_problem(client.post("/v1/comparables", json={}, headers=key), 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/assets"),
        ("POST", "/v1/assets"),
        ("GET", "/v1/assets/1"),
        ("PUT", "/v1/assets/1/signals"),
        ("GET", "/v1/assets/1/signals"),
        ("POST", "/v1/assets/1/costs"),
        ("GET", "/v1/assets/1/costs"),
        ("POST", "/v1/comparables"),
        ("GET", "/v1/comparables"),
    ],
)
def test_missing_key_is_401(client, method, path) -> None:
    r = client.request(method, path, json={})
    is_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


# ------------------------------------------------------------------ costs and comparables


def test_costs_single_and_batch(client, registrar, asset_id, make_key, session_factory) -> None:
    costs = SAMPLES.assets[0].costs
    records = [
        {
            "category": c,
            "amount": a,
            "currency": ccy,
            "incurred_on": d.isoformat(),
            "recurring_months": int(n),
        }
        for c, a, ccy, d, n in costs.itertuples(index=False)
    ]
    r = client.post(f"/v1/assets/{asset_id}/costs", json=records, headers=registrar)
    assert r.status_code == 201, r.text
    assert len(r.json()["items"]) == len(records)
    one = client.post(f"/v1/assets/{asset_id}/costs", json=records[0], headers=registrar)
    assert one.status_code == 201
    assert len(one.json()["items"]) == 1
    got = client.get(
        f"/v1/assets/{asset_id}/costs", params={"limit": 500}, headers=make_key("bank", "t9")
    )
    items = got.json()["items"]
    assert len(items) == len(records) + 1
    assert items[0]["amount"] == pytest.approx(records[0]["amount"], abs=1e-4)
    assert items[0]["recurring_months"] == records[0]["recurring_months"]


def test_comparables(client, registrar, make_key) -> None:
    comps = SAMPLES.comparables
    records = [
        {
            "category": c,
            "price": p,
            "currency": ccy,
            "traded_on": d.isoformat(),
            "records": int(n),
            "quality_score": q,
            "rights_scope": s,
            "annual_revenue": r,
        }
        for c, p, ccy, d, n, q, s, r in comps.itertuples(index=False)
    ]
    r = client.post("/v1/comparables", json=records, headers=registrar)
    assert r.status_code == 201
    assert len(r.json()["items"]) == len(records)
    reader = make_key("risk", "tenant-q")
    page = client.get(
        "/v1/comparables", params={"category": "financial", "limit": 500}, headers=reader
    ).json()
    assert len(page["items"]) == int((comps["category"] == "financial").sum())
    assert all(i["tenant"] == "tenant-a" for i in page["items"])


# ------------------------------------------------------------------ every error is problem+json


def _bad_requests(asset_id: int) -> list[tuple[str, str, dict, int, str | None]]:
    good = body(5)

    def with_(path: str, value) -> dict:
        b = copy.deepcopy(good)
        *head, last = path.split(".")
        target = b
        for k in head:
            target = target[k]
        target[last] = value
        return {"json": b}

    cost = {"category": "storage", "amount": 10.0, "currency": "CNY", "incurred_on": "2025-01-01"}
    comp = {
        "category": "consumer",
        "price": 100.0,
        "currency": "CNY",
        "traded_on": "2025-01-01",
        "records": 10,
        "quality_score": 0.9,
        "rights_scope": "holding",
    }
    return [
        ("POST", "/v1/assets", with_("quality.accuracy", 1.5), 422, "quality.accuracy"),
        ("POST", "/v1/assets", with_("category", "weather"), 422, "category"),
        ("POST", "/v1/assets", with_("fingerprint_sha256", "abc"), 422, "fingerprint_sha256"),
        ("POST", "/v1/assets", with_("fingerprint_sha256", "g" * 64), 422, "fingerprint_sha256"),
        ("POST", "/v1/assets", with_("records", -1), 422, "records"),
        ("POST", "/v1/assets", with_("records", 2**40), 422, "records"),
        ("POST", "/v1/assets", with_("refresh_days", 0), 422, "refresh_days"),
        ("POST", "/v1/assets", with_("rights.territory", ""), 422, "rights.territory"),
        ("POST", "/v1/assets", with_("rights.holding", "maybe"), 422, "rights.holding"),
        ("POST", "/v1/assets", with_("extra", 1), 422, "extra"),
        (
            "POST",
            "/v1/assets",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            422,
            "body",
        ),
        (
            "POST",
            "/v1/assets",
            {"content": b"<xml/>", "headers": {"Content-Type": "application/xml"}},
            415,
            None,
        ),
        ("POST", "/v1/assets", {"json": [1, 2]}, 422, None),
        ("GET", "/v1/assets", {"params": {"limit": 501}}, 422, "limit"),
        ("GET", "/v1/assets", {"params": {"limit": 0}}, 422, "limit"),
        ("GET", "/v1/assets", {"params": {"cursor": "forged"}}, 422, "cursor"),
        ("GET", "/v1/assets", {"params": {"cursor": "eyJpZCI6IDF9.AAAA"}}, 422, "cursor"),
        ("GET", "/v1/assets/999999", {}, 404, None),
        ("GET", "/v1/assets/not-a-number", {}, 422, "asset_id"),
        ("GET", "/v1/assets/999999/signals", {}, 404, None),
        (
            "PUT",
            "/v1/assets/999999/signals",
            {"json": [{"month": "2025-01", "metric": "revenue", "value": 1}]},
            404,
            None,
        ),
        ("PUT", f"/v1/assets/{asset_id}/signals", {"json": {"month": "2025-01"}}, 422, "body"),
        (
            "PUT",
            f"/v1/assets/{asset_id}/signals",
            {"content": b"x", "headers": {"Content-Type": "application/xml"}},
            415,
            None,
        ),
        (
            "POST",
            f"/v1/assets/{asset_id}/costs",
            {"json": cost | {"currency": "cny"}},
            422,
            "0.currency",
        ),
        ("POST", f"/v1/assets/{asset_id}/costs", {"json": cost | {"amount": -1}}, 422, "0.amount"),
        (
            "POST",
            f"/v1/assets/{asset_id}/costs",
            {"json": cost | {"category": "marketing"}},
            422,
            "0.category",
        ),
        (
            "POST",
            f"/v1/assets/{asset_id}/costs",
            {"json": cost | {"incurred_on": "2025-02-30"}},
            422,
            "0.incurred_on",
        ),
        (
            "POST",
            f"/v1/assets/{asset_id}/costs",
            {"json": [cost, cost | {"recurring_months": -1}]},
            422,
            "1.recurring_months",
        ),
        ("POST", f"/v1/assets/{asset_id}/costs", {"json": []}, 422, "body"),
        ("POST", "/v1/assets/999999/costs", {"json": cost}, 404, None),
        (
            "POST",
            "/v1/comparables",
            {"json": comp | {"rights_scope": "all"}},
            422,
            "0.rights_scope",
        ),
        ("POST", "/v1/comparables", {"json": comp | {"price": 0}}, 422, "0.price"),
        ("POST", "/v1/comparables", {"json": comp | {"quality_score": 2}}, 422, "0.quality_score"),
        ("DELETE", "/v1/assets", {}, 405, None),
        ("GET", "/v1/nowhere", {}, 404, None),
    ]


def test_every_error_is_problem_json(client, registrar, asset_id, session_factory) -> None:
    before = (count(session_factory, AuditEntry), count(session_factory, Signal))
    for method, path, kwargs, status, field in _bad_requests(asset_id):
        kw = copy.deepcopy(kwargs)
        kw["headers"] = registrar | kw.get("headers", {})
        r = client.request(method, path, **kw)
        doc = is_problem(r, status)
        if field is not None:
            fields = [e["field"] for e in doc["errors"]]
            assert field in fields, (method, path, fields)
    assert (count(session_factory, AuditEntry), count(session_factory, Signal)) == before
