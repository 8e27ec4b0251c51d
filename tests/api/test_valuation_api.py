"""Valuation endpoints of the API contract: POST/GET valuations, quotes, quotes by category, SSE, errors."""

from __future__ import annotations

import copy
import json

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.valuation import AssetQuote, Valuation
from samples.data_assets import generate_samples

PROBLEM = "application/problem+json"
SAMPLES = generate_samples(11, n_assets=2, n_comparables=60)
AS_OF = SAMPLES.as_of.isoformat()


def _register(client, headers, i: int = 0, *, signals=True, costs=True) -> int:
    sample = SAMPLES.assets[i]
    r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=headers)
    assert r.status_code == 201, r.text
    asset_id = r.json()["id"]
    if signals:
        rows = [
            {"month": f"{m:%Y-%m}", "metric": k, "value": float(v)}
            for m, k, v in sample.signals[["month", "metric", "value"]].itertuples(index=False)
        ]
        r = client.put(f"/v1/assets/{asset_id}/signals", json=rows, headers=headers)
        assert r.status_code == 200, r.text
    if costs:
        records = [
            {
                "category": c,
                "amount": a,
                "currency": ccy,
                "incurred_on": d.isoformat(),
                "recurring_months": int(n),
            }
            for c, a, ccy, d, n in sample.costs.itertuples(index=False)
        ]
        r = client.post(f"/v1/assets/{asset_id}/costs", json=records, headers=headers)
        assert r.status_code == 201, r.text
    return asset_id


def _comparables(client, headers) -> None:
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
        for c, p, ccy, d, n, q, s, r in SAMPLES.comparables.itertuples(index=False)
    ]
    r = client.post("/v1/comparables", json=records, headers=headers)
    assert r.status_code == 201, r.text


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    return r.json()


@pytest.fixture
def registrar(make_key):
    return make_key("registrar", "tenant-a")


@pytest.fixture
def bank(make_key):
    return make_key("bank", "tenant-b")


@pytest.fixture
def asset_id(client, registrar) -> int:
    _comparables(client, registrar)
    return _register(client, registrar)


def test_post_valuation_returns_every_method_and_a_quote(
    client, bank, asset_id, session_factory
) -> None:
    body = {
        "as_of": AS_OF,
        "currency": "CNY",
        "paths": 2_000,
        "seed": 7,
        "assumptions": {"discount_rate": 0.12, "half_life_months": 36},
    }
    r = client.post(f"/v1/assets/{asset_id}/valuations", json=body, headers=bank)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc["methods"]) == {"income", "cost", "market"}
    for m in doc["methods"].values():
        assert m["value"] > 0
        assert m["assumptions"]
    assert doc["methods"]["income"]["assumptions"]["discount_rate"] == 0.12
    assert doc["methods"]["income"]["assumptions"]["half_life_months"] == 36
    d = doc["distribution"]
    assert d["p05"] <= d["p50"] <= d["p95"]
    assert d["std"] > 0
    q = doc["quote"]
    assert q["bid"] <= q["mid"] <= q["ask"]
    assert q["mid"] == pytest.approx(doc["value"], abs=0.01)
    assert q["lending_value"] == pytest.approx(q["mid"] * (1 - q["haircut"]), abs=0.02)
    assert q["valuation_id"] == doc["id"]
    assert q["as_of"] == AS_OF
    assert doc["seed"] == 7
    assert doc["paths"] == 2_000
    assert len(doc["inputs_sha256"]) == 64
    assert round(doc["value"], 2) == doc["value"]  # booked in CNY minor units
    with session_factory() as s:
        actions = s.execute(sa.select(AuditEntry.action)).scalars().all()
    assert "valuation.create" in actions


def test_same_inputs_and_seed_reproduce_the_same_figures(client, bank, registrar, asset_id) -> None:
    body = {"as_of": AS_OF, "paths": 1_000, "seed": 3}
    a = client.post(f"/v1/assets/{asset_id}/valuations", json=body, headers=bank).json()
    b = client.post(f"/v1/assets/{asset_id}/valuations", json=body, headers=registrar).json()
    assert a["id"] != b["id"]
    assert a["inputs_sha256"] == b["inputs_sha256"]
    for key in ("value", "distribution", "methods", "weights"):
        assert a[key] == b[key]
    c = client.post(
        f"/v1/assets/{asset_id}/valuations", json={**body, "seed": 4}, headers=bank
    ).json()
    assert c["inputs_sha256"] != a["inputs_sha256"]
    assert c["distribution"] != a["distribution"]


def test_the_answer_is_the_stored_record(client, bank, asset_id) -> None:
    """The POST answer is built from the document the row stores, as a later GET is."""
    body = {"as_of": AS_OF, "paths": 1_000, "seed": 5}
    posted = client.post(f"/v1/assets/{asset_id}/valuations", json=body, headers=bank).json()
    read = client.get(f"/v1/valuations/{posted['id']}", headers=bank).json()
    assert posted == read


def test_history_single_read_and_latest_quote(client, registrar, make_key, asset_id) -> None:
    # the asset's own registrar values it: its quotes are the public ones
    ids = [
        client.post(
            f"/v1/assets/{asset_id}/valuations",
            json={"as_of": AS_OF, "paths": 500, "seed": s},
            headers=registrar,
        ).json()["id"]
        for s in (1, 2, 3)
    ]
    reader = make_key("fund_manager", "tenant-z")
    page = client.get(
        f"/v1/assets/{asset_id}/valuations", params={"limit": 2}, headers=reader
    ).json()
    assert [v["id"] for v in page["items"]] == ids[::-1][:2]
    rest = client.get(
        f"/v1/assets/{asset_id}/valuations", params={"cursor": page["next_cursor"]}, headers=reader
    ).json()
    assert [v["id"] for v in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None
    one = client.get(f"/v1/valuations/{ids[1]}", headers=reader).json()
    assert one["id"] == ids[1]
    assert one["seed"] == 2
    quote = client.get(f"/v1/quotes/{asset_id}", headers=reader).json()
    assert quote["valuation_id"] == ids[-1]
    assert set(quote) >= {
        "mid",
        "bid",
        "ask",
        "lending_value",
        "haircut",
        "currency",
        "as_of",
        "valid_until",
        "valuation_id",
    }
    _problem(client.get("/v1/valuations/999999", headers=reader), 404)


def test_the_quote_cache_never_hides_a_publication_of_this_process(
    client, app, registrar, make_key, asset_id
) -> None:
    """GET /v1/quotes/{id} is served from a short-lived cache, dropped when this process
    publishes a new quote; errors are never cached."""
    from api import quote_cache

    reader = make_key("fund_manager", "tenant-z")
    assert client.get(f"/v1/quotes/{asset_id}", headers=reader).status_code == 404  # not valued yet
    first = client.post(
        f"/v1/assets/{asset_id}/valuations",
        json={"as_of": AS_OF, "paths": 300, "seed": 1},
        headers=registrar,
    ).json()
    assert (
        client.get(f"/v1/quotes/{asset_id}", headers=reader).json()["valuation_id"] == first["id"]
    )
    assert quote_cache.for_app(app).get(asset_id) is not None  # the next read is the cached answer
    assert (
        client.get(f"/v1/quotes/{asset_id}", headers=reader).json()["valuation_id"] == first["id"]
    )
    # a bank's own valuation is not the public quote: the cached answer stays right
    client.post(
        f"/v1/assets/{asset_id}/valuations",
        json={"as_of": AS_OF, "paths": 300, "seed": 2},
        headers=make_key("bank", "bank-q"),
    )
    assert (
        client.get(f"/v1/quotes/{asset_id}", headers=reader).json()["valuation_id"] == first["id"]
    )
    second = client.post(
        f"/v1/assets/{asset_id}/valuations",
        json={"as_of": AS_OF, "paths": 300, "seed": 3},
        headers=registrar,
    ).json()
    assert (
        client.get(f"/v1/quotes/{asset_id}", headers=reader).json()["valuation_id"] == second["id"]
    )
    csv = client.get(f"/v1/quotes/{asset_id}?format=csv", headers=reader)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")


def test_quotes_by_category(client, registrar, bank, asset_id) -> None:
    other = _register(client, registrar, 1)
    for a in (asset_id, other):
        assert (
            client.post(
                f"/v1/assets/{a}/valuations", json={"as_of": AS_OF, "paths": 200}, headers=registrar
            ).status_code
            == 201
        )
    category = SAMPLES.assets[0].category
    items = client.get("/v1/quotes", params={"category": category}, headers=bank).json()["items"]
    assert [q["asset_id"] for q in items] == [asset_id]
    everything = client.get("/v1/quotes", params={"limit": 1}, headers=bank).json()
    assert len(everything["items"]) == 1
    assert everything["next_cursor"]


def test_quote_stream_replays_and_closes(client, registrar, bank, asset_id) -> None:
    client.post(
        f"/v1/assets/{asset_id}/valuations", json={"as_of": AS_OF, "paths": 200}, headers=registrar
    )
    with client.stream(
        "GET", "/v1/quotes/stream", params={"since_id": 0, "limit": 1}, headers=bank
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    event = [b for b in text.split("\n\n") if b.startswith("id:")][0]
    lines = dict(line.split(": ", 1) for line in event.splitlines())
    assert lines["event"] == "quote"
    assert json.loads(lines["data"])["asset_id"] == asset_id


def test_no_method_can_run_says_what_each_lacks(client, registrar, bank, session_factory) -> None:
    bare = _register(client, registrar, 1, signals=False, costs=False)
    doc = _problem(
        client.post(f"/v1/assets/{bare}/valuations", json={"as_of": AS_OF}, headers=bank), 422
    )
    fields = {e["field"]: e["message"] for e in doc["errors"]}
    assert set(fields) == {"signals", "costs", "comparables"}
    assert "income approach" in fields["signals"]
    assert "months of revenue" in fields["signals"]
    assert "cost record" in fields["costs"]
    assert "at least 3 comparables" in fields["comparables"]
    with session_factory() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Valuation)).scalar_one() == 0
        assert s.execute(sa.select(sa.func.count()).select_from(AssetQuote)).scalar_one() == 0


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"as_of": "2025-02-30"}, "as_of"),
        ({"as_of": "tomorrow"}, "as_of"),
        ({"paths": 0}, "paths"),
        ({"paths": 1_000_001}, "paths"),
        ({"seed": -1}, "seed"),
        ({"assumptions": {"revenue_share": 2}}, "assumptions.revenue_share"),
        ({"assumptions": {"no_such_thing": 1}}, "assumptions.no_such_thing"),
        ({"weights": {"magic": 1}}, "weights.magic"),
        ({"currency": "SEK"}, "risk_free_rate"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client, bank, asset_id, session_factory, patch, field
) -> None:
    body = {"as_of": AS_OF, "paths": 100, **patch}
    doc = _problem(client.post(f"/v1/assets/{asset_id}/valuations", json=body, headers=bank), 422)
    assert field in [e["field"] for e in doc["errors"]]
    with session_factory() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Valuation)).scalar_one() == 0


def test_roles_and_auth(client, make_key, asset_id) -> None:
    body = {"as_of": AS_OF, "paths": 100}
    _problem(client.post(f"/v1/assets/{asset_id}/valuations", json=body), 401)
    for role in ("fund_manager", "risk"):
        _problem(
            client.post(f"/v1/assets/{asset_id}/valuations", json=body, headers=make_key(role)), 403
        )
    assert (
        client.post(
            f"/v1/assets/{asset_id}/valuations", json=body, headers=make_key("admin")
        ).status_code
        == 201
    )
    _problem(client.post("/v1/assets/424242/valuations", json=body, headers=make_key("bank")), 404)
    _problem(client.get("/v1/quotes/424242", headers=make_key("bank")), 404)
    _problem(client.get(f"/v1/quotes/{asset_id}", headers={"Authorization": "Bearer nope"}), 401)


def test_stored_valuations_are_immutable(client, bank, asset_id, session_factory) -> None:
    vid = client.post(
        f"/v1/assets/{asset_id}/valuations", json={"as_of": AS_OF, "paths": 100}, headers=bank
    ).json()["id"]
    with session_factory() as s:
        row = s.get(Valuation, vid)
        row.seed = 99
        with pytest.raises(PermissionError, match="immutable"):
            s.flush()


def test_quote_stream_resumes_after_last_event_id_and_times_out(
    client, registrar, bank, asset_id
) -> None:
    for seed in (1, 2):
        client.post(
            f"/v1/assets/{asset_id}/valuations",
            json={"as_of": AS_OF, "paths": 100, "seed": seed},
            headers=registrar,
        )
    with client.stream(
        "GET", "/v1/quotes/stream", params={"since_id": 0, "limit": 2}, headers=bank
    ) as r:
        ids = [
            int(line[4:]) for line in "".join(r.iter_text()).splitlines() if line.startswith("id: ")
        ]
    assert len(ids) == 2
    assert ids[0] < ids[1]
    headers = {**bank, "Last-Event-ID": str(ids[0])}
    with client.stream("GET", "/v1/quotes/stream", params={"limit": 1}, headers=headers) as r:
        text = "".join(r.iter_text())
    assert f"id: {ids[1]}" in text
    with client.stream(
        "GET", "/v1/quotes/stream", params={"timeout_seconds": 0.3}, headers=bank
    ) as r:
        text = "".join(r.iter_text())
    assert "event: quote" not in text


def test_service_for_other_shells_values_without_writing(
    bank, client, asset_id, session_factory
) -> None:
    from datetime import date

    from api.services.valuation import value_registered_asset

    with session_factory() as s:
        result = value_registered_asset(
            s, asset_id, as_of=date.fromisoformat(AS_OF), paths=300, seed=5
        )
    assert result.simulation is not None
    assert result.simulation.values.shape == (300,)
    assert result.simulation.horizon_value(6).shape == (300,)
    assert set(result.methods) == {"income", "cost", "market"}
    with session_factory() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Valuation)).scalar_one() == 0


def test_a_valuation_of_one_path_is_stored_and_read_back(client, registrar, asset_id) -> None:
    """Found by schemathesis: ``paths`` 1 stored a histogram of nulls and broke every read
    of the asset's valuations."""
    r = client.post(
        f"/v1/assets/{asset_id}/valuations",
        json={"as_of": AS_OF, "paths": 1, "seed": 226},
        headers=registrar,
    )
    assert r.status_code == 201, r.text
    assert all(isinstance(x, float) for x in r.json()["histogram"]["density"])
    listed = client.get(f"/v1/assets/{asset_id}/valuations", headers=registrar)
    assert listed.status_code == 200
    assert listed.json()["items"][0]["id"] == r.json()["id"]


def test_a_stored_histogram_of_nulls_never_breaks_a_read(
    client, registrar, asset_id, session_factory
) -> None:
    vid = client.post(
        f"/v1/assets/{asset_id}/valuations",
        json={"as_of": AS_OF, "paths": 200, "seed": 1},
        headers=registrar,
    ).json()["id"]
    with session_factory() as s:  # as a valuation stored before the fix may be
        row = s.get(Valuation, vid)
        doc = json.loads(row.result_json)
        doc["histogram"]["density"] = [None] * len(doc["histogram"]["density"])
        s.execute(
            sa.update(Valuation).where(Valuation.id == vid).values(result_json=json.dumps(doc))
        )
        s.commit()
    r = client.get(f"/v1/valuations/{vid}", headers=registrar)
    assert r.status_code == 200
    assert r.json()["histogram"] is None
    assert client.get(f"/v1/assets/{asset_id}/valuations", headers=registrar).status_code == 200
