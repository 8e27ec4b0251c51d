"""API contract for what comes back: response field names exactly as listed, lists as
``{"items", "next_cursor"}`` with ``limit`` default 50 / max 500 and a working cursor, dates
ISO ``YYYY-MM-DD``, months ``YYYY-MM``, rates and probabilities as decimals."""

from __future__ import annotations

import copy
import csv
import io
import re
from datetime import date
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

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@pytest.fixture
def world(client, make_key) -> dict[str, Any]:
    """Tenant-a: two assets with signals, costs, comparables; one valuation each; one loan."""
    w: dict[str, Any] = {
        "reg": make_key("registrar", "tenant-a"),
        "bank": make_key("bank", "tenant-a"),
        "fm": make_key("fund_manager", "tenant-a"),
        "risk": make_key("risk", "tenant-a"),
    }
    ids = []
    for sample in SAMPLES.assets:
        r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=w["reg"])
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        assert (
            client.put(
                f"/v1/assets/{aid}/signals",
                content=signals_csv(sample.signals),
                headers={**w["reg"], "Content-Type": "text/csv"},
            ).status_code
            == 200
        )
        assert (
            client.post(
                f"/v1/assets/{aid}/costs", json=cost_bodies(sample.costs), headers=w["reg"]
            ).status_code
            == 201
        )
        ids.append(aid)
    assert (
        client.post(
            "/v1/comparables", json=comparable_bodies(SAMPLES.comparables), headers=w["reg"]
        ).status_code
        == 201
    )
    w["assets"] = ids
    w["valuations"] = []
    for aid in ids:
        r = client.post(
            f"/v1/assets/{aid}/valuations",
            json={"as_of": AS_OF, "currency": "CNY", "paths": 200, "seed": 1},
            headers=w["reg"],
        )
        assert r.status_code == 201, r.text
        w["valuations"].append(r.json())
    q = client.post("/v1/loans/quote", json=loan_body(ids[:1]), headers=w["bank"])
    assert q.status_code == 200, q.text
    w["quote"] = q.json()
    r = client.post(
        "/v1/loans",
        json=loan_body(
            ids[:1], principal=round(q.json()["max_principal"] / 4, 2), start_date=AS_OF
        ),
        headers=w["bank"],
    )
    assert r.status_code == 201, r.text
    w["loan"] = r.json()
    return w


def _is_decimal_rate(x: Any) -> bool:
    return isinstance(x, int | float) and -1.0 < x < 1.0


def _is_probability(x: Any) -> bool:
    return isinstance(x, int | float) and 0.0 <= x <= 1.0


def _iso(x: Any) -> bool:
    if not (isinstance(x, str) and ISO_DATE.match(x)):
        return False
    date.fromisoformat(x)
    return True


def _money_rounded(x: float, places: int = 2) -> bool:
    return abs(round(x, places) - x) < 1e-9 * max(1.0, abs(x))


# ----------------------------------------------------------------------------- valuation and quote


def test_valuation_and_quote_fields(client, world) -> None:
    v = world["valuations"][0]
    assert {"id", "value", "currency", "distribution", "methods", "quote"} <= set(v)
    assert set(v["distribution"]) >= {"mean", "std", "p05", "p50", "p95"}
    assert v["distribution"]["p05"] <= v["distribution"]["p50"] <= v["distribution"]["p95"]
    assert {"income", "cost", "market"} <= set(v["methods"])
    for name in ("income", "cost", "market"):
        assert "value" in v["methods"][name]
        assert isinstance(v["methods"][name].get("assumptions"), dict)
    assert v["currency"] == "CNY"
    assert _iso(v["as_of"])
    assert _money_rounded(v["value"])
    quote_fields = {
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
    assert quote_fields <= set(v["quote"])
    # the same figures through every read path
    aid = world["assets"][0]
    assert (
        client.get(f"/v1/valuations/{v['id']}", headers=world["fm"]).json()["value"] == v["value"]
    )
    q = client.get(f"/v1/quotes/{aid}", headers=world["risk"]).json()
    assert quote_fields <= set(q)
    assert q["valuation_id"] == v["id"]
    assert _iso(q["as_of"])
    assert _iso(q["valid_until"])
    assert q["valid_until"] >= q["as_of"]
    assert q["bid"] <= q["mid"] <= q["ask"]
    assert 0.0 <= q["haircut"] < 1.0
    assert q["lending_value"] == pytest.approx(q["mid"] * (1 - q["haircut"]), rel=1e-6, abs=0.01)
    for k in ("mid", "bid", "ask", "lending_value"):
        assert _money_rounded(q[k]), (k, q[k])


def test_valuation_assumptions_are_echoed(client, world) -> None:
    aid = world["assets"][0]
    body = {
        "as_of": AS_OF,
        "paths": 100,
        "seed": 2,
        "assumptions": {"discount_rate": 0.12, "half_life_months": 36, "revenue_share": 0.5},
    }
    r = client.post(f"/v1/assets/{aid}/valuations", json=body, headers=world["reg"])
    assert r.status_code == 201, r.text
    used = r.json()["methods"]["income"]["assumptions"]
    assert used["discount_rate"] == 0.12
    assert used["half_life_months"] == 36
    assert used["revenue_share"] == 0.5


def test_quote_stream_is_server_sent_events(client, world) -> None:
    r = client.get("/v1/quotes/stream?since_id=0&limit=1&timeout_seconds=2", headers=world["fm"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: quote" in r.text
    assert "data: {" in r.text


# ----------------------------------------------------------------------------- credit


def test_loan_quote_fields(world) -> None:
    q = world["quote"]
    assert {
        "lending_value",
        "haircut",
        "max_principal",
        "pd",
        "lgd",
        "ead",
        "expected_loss",
        "capital",
        "rwa",
        "rate",
    } <= set(q)
    assert set(q["rate"]) >= {"funding", "expected_loss", "capital", "costs", "total"}
    for k in ("funding", "expected_loss", "capital", "costs", "total"):
        assert _is_decimal_rate(q["rate"][k]), (k, q["rate"][k])
    assert q["rate"]["total"] == pytest.approx(
        sum(q["rate"][k] for k in ("funding", "expected_loss", "capital", "costs"))
    )
    for k in ("pd", "lgd", "haircut"):
        assert _is_probability(q[k]), (k, q[k])


def test_loan_schedule_and_risk_fields(client, world) -> None:
    lid = world["loan"]["id"]
    rows = client.get(f"/v1/loans/{lid}/schedule", headers=world["risk"]).json()
    assert rows
    assert all(set(r) >= {"date", "interest", "principal", "balance"} for r in rows)
    assert all(_iso(r["date"]) for r in rows)
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    risk = client.get(f"/v1/loans/{lid}/risk", headers=world["bank"]).json()
    assert {"pd", "lgd", "ead", "expected_loss", "capital", "rwa"} <= set(risk)
    loan = client.get(f"/v1/loans/{lid}", headers=world["bank"]).json()
    assert _iso(loan["start_date"])
    assert _is_decimal_rate(
        loan["rate"]["total"] if isinstance(loan["rate"], dict) else loan["rate"]
    )
    r = client.post(f"/v1/loans/{lid}/revalue", json={"as_of": AS_OF}, headers=world["bank"])
    assert r.status_code == 200, r.text
    assert "ltv" in r.json()
    assert isinstance(r.json()["events"], list)


def test_loan_schedule_amounts_are_rounded_to_minor_units(client, world) -> None:
    rows = client.get(f"/v1/loans/{world['loan']['id']}/schedule", headers=world["bank"]).json()
    for r in rows:
        for k in ("interest", "principal", "balance"):
            assert _money_rounded(r[k]), (k, r[k])


def test_portfolio_risk_fields(client, world) -> None:
    lhp = client.get("/v1/portfolio/risk?confidence=0.99&method=lhp", headers=world["risk"])
    assert lhp.status_code == 422
    assert lhp.json()["errors"][0]["field"] == "method"
    for method in ("recursion", "mc"):
        r = client.get(f"/v1/portfolio/risk?confidence=0.99&method={method}", headers=world["risk"])
        assert r.status_code == 200, r.text
        p = r.json()
        assert {"expected_loss", "var", "es", "economic_capital", "contributions"} <= set(p)
        assert isinstance(p["contributions"], list)
        assert len(p["contributions"]) == 1
        assert p["es"] >= p["var"] - 1e-9


# ----------------------------------------------------------------------------- products


def test_tranche_pricing_and_data_note_fields(client, world) -> None:
    fm = world["fm"]
    sid = client.post("/v1/securitizations", json=DEAL, headers=fm).json()["id"]
    r = client.post(
        f"/v1/securitizations/{sid}/price",
        json={"paths": 500, "seed": 1, "correlation": 0.2},
        headers=world["risk"],
    )
    assert r.status_code == 200, r.text
    tranches = r.json()["tranches"]
    assert [t["name"] for t in tranches] == ["A", "B"]
    for t in tranches:
        assert {
            "expected_loss",
            "prob_loss",
            "price",
            "fair_spread_bp",
            "wal_years",
            "duration",
        } <= set(t)
        assert _is_probability(t["expected_loss"])
        assert _is_probability(t["prob_loss"])
    r = client.post(
        "/v1/data-notes/price",
        json={
            "asset_id": world["assets"][0],
            "share": 0.3,
            "term_months": 12,
            "issuer_hazard": 0.05,
            "paths": 200,
            "seed": 1,
            "as_of": AS_OF,
        },
        headers=fm,
    )
    assert r.status_code == 200, r.text
    note = r.json()
    assert {"price", "distribution", "yield"} <= set(note)
    assert _is_decimal_rate(note["yield"])


# ----------------------------------------------------------------------------- risk

STRESS_METRICS = (
    "collateral_value",
    "lending_value",
    "ltv",
    "pd",
    "lgd",
    "expected_loss",
    "capital",
    "margin_calls",
)


def test_stress_run_status_and_results_shape(client, app, world) -> None:
    risk = world["risk"]
    deal = {**DEAL, "pool": {"loan_ids": [world["loan"]["id"]]}}
    assert client.post("/v1/securitizations", json=deal, headers=world["fm"]).status_code == 201
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "data_demand_slump", "paths": 16, "seed": 1},
        headers=risk,
    )
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    assert r.json()["status"] in ("queued", "running", "succeeded", "failed")
    assert get_jobs(app).wait(timeout=60)
    s = client.get(f"/v1/stress-runs/{rid}", headers=risk).json()
    assert s["status"] == "succeeded"
    assert s["progress"] == 1.0
    res = client.get(f"/v1/stress-runs/{rid}/results", headers=risk).json()
    assert {"run_id", "scenario", "aggregate", "positions"} <= set(res)
    assert res["run_id"] == rid
    assert res["scenario"] == "data_demand_slump"
    for metric in STRESS_METRICS:
        assert set(res["aggregate"][metric]) == {"base", "stressed", "delta"}, metric
    for metric in ("tranche_expected_loss", "price"):
        assert set(res["aggregate"][metric]) == {"base", "stressed", "delta"}, metric
    kinds = {p["kind"] for p in res["positions"]}
    assert {"asset", "loan", "tranche"} <= kinds
    for tranche in (p for p in res["positions"] if p["kind"] == "tranche"):
        assert {"tranche_expected_loss", "price"} <= set(tranche)
    for p in res["positions"]:
        assert "id" in p
        for k, v in p.items():
            if k not in ("kind", "id"):
                assert set(v) == {"base", "stressed", "delta"}, (k, v)
    loan = next(p for p in res["positions"] if p["kind"] == "loan")
    assert {"ltv", "pd", "lgd", "expected_loss", "capital"} <= set(loan)
    text = client.get(f"/v1/stress-runs/{rid}/results", headers={**risk, "Accept": "text/csv"})
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert rows
    assert {"kind", "metric", "base", "stressed", "delta"} <= set(rows[0])


def test_scenario_round_trip(client, make_key) -> None:
    risk = make_key("risk")
    body = {
        "name": "my_slump",
        "extends": "data_demand_slump",
        "horizon_months": 12,
        "shocks": {
            "pd_multiplier": 2.0,
            "rights_events": [{"category": "consumer", "cross_border": True, "value_factor": 0.5}],
        },
    }
    r = client.post("/v1/scenarios", json=body, headers=risk)
    assert r.status_code == 201, r.text
    listed = {
        s["name"]: s for s in client.get("/v1/scenarios?limit=500", headers=risk).json()["items"]
    }
    assert "my_slump" in listed
    assert "baseline" in listed


# ----------------------------------------------------------------------------- dates and months


def test_signals_months_and_cost_dates_are_iso(client, world) -> None:
    aid = world["assets"][0]
    sig = client.get(f"/v1/assets/{aid}/signals?limit=500", headers=world["bank"]).json()["items"]
    assert sig
    assert all(MONTH.match(s["month"]) for s in sig)
    assert set(sig[0]) >= {"month", "metric", "value"}
    costs = client.get(f"/v1/assets/{aid}/costs", headers=world["bank"]).json()["items"]
    assert costs
    assert all(_iso(c["incurred_on"]) for c in costs)
    comps = client.get("/v1/comparables", headers=world["bank"]).json()["items"]
    assert comps
    assert all(_iso(c["traded_on"]) for c in comps)
    asset = client.get(f"/v1/assets/{aid}", headers=world["bank"]).json()
    assert {"id", "certificate_no"} <= set(asset)
    assert re.match(r"^DA-\d{4}-\d{6}$", asset["certificate_no"])


def test_signal_import_is_idempotent_and_counts(client, world) -> None:
    aid = world["assets"][1]
    body = [
        {"month": "2030-01", "metric": "revenue", "value": 1200.0},
        {"month": "2030-02", "metric": "revenue", "value": 1300.0},
    ]
    first = client.put(f"/v1/assets/{aid}/signals", json=body, headers=world["reg"]).json()
    assert first["inserted"] == 2
    assert first["updated"] == 0
    again = client.put(f"/v1/assets/{aid}/signals", json=body, headers=world["reg"]).json()
    assert again["inserted"] == 0
    assert again["updated"] == 0
    body[1]["value"] = 1400.0
    changed = client.put(f"/v1/assets/{aid}/signals", json=body, headers=world["reg"]).json()
    assert changed["inserted"] == 0
    assert changed["updated"] == 1
    # the same rows as CSV with \r\n or bare \r line ends change nothing
    for sep in ("\r\n", "\r"):
        text = (
            sep.join(["month,metric,value", "2030-01,revenue,1200", "2030-02,revenue,1400"]) + sep
        )
        r = client.put(
            f"/v1/assets/{aid}/signals",
            content=text,
            headers={**world["reg"], "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"inserted": 0, "updated": 0, "unchanged": 2}


# ----------------------------------------------------------------------------- pagination


def _walk(client, path: str, headers: dict[str, str], limit: int) -> list[Any]:
    sep = "&" if "?" in path else "?"
    items: list[Any] = []
    cursor = None
    for _ in range(1000):
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) >= {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert isinstance(cursor, str)
        assert cursor
    raise AssertionError("the cursor never ended")


def _key(item: dict[str, Any]) -> Any:
    return item.get("id") or item.get("name") or (item.get("metric"), item.get("month"))


def test_default_limit_50_max_500_and_cursor(client, world) -> None:
    reg = world["reg"]
    aid = world["assets"][0]
    # enough rows for more than one default page
    extra = [
        dict(c, price=c["price"] + i) for i, c in enumerate(comparable_bodies(SAMPLES.comparables))
    ]
    assert client.post("/v1/comparables", json=extra, headers=reg).status_code == 201
    costs = [
        {
            "category": "storage",
            "amount": 100.0 + i,
            "currency": "CNY",
            "incurred_on": "2024-01-01",
            "recurring_months": 0,
        }
        for i in range(60)
    ]
    assert client.post(f"/v1/assets/{aid}/costs", json=costs, headers=reg).status_code == 201
    for i in range(50):
        profile = copy.deepcopy(SAMPLES.assets[0].profile)
        profile["fingerprint_sha256"] = f"{i:064x}"
        assert client.post("/v1/assets", json=profile, headers=reg).status_code == 201
    for path in (
        "/v1/assets",
        f"/v1/assets/{aid}/signals",
        f"/v1/assets/{aid}/costs",
        "/v1/comparables",
    ):
        first = client.get(path, headers=world["fm"]).json()
        assert set(first) >= {"items", "next_cursor"}
        assert len(first["items"]) == 50, path
        assert first["next_cursor"], path
        everything = client.get(f"{path}?limit=500", headers=world["fm"]).json()
        assert len(everything["items"]) > 50, path
        assert everything["next_cursor"] is None, path
        walked = _walk(client, path, world["fm"], 7)
        assert [_key(i) for i in walked] == [_key(i) for i in everything["items"]], path
        assert client.get(f"{path}?limit=501", headers=world["fm"]).status_code == 422


def test_every_list_endpoint_pages_with_a_cursor(client, app, world) -> None:
    bank, fm, risk = world["bank"], world["fm"], world["risk"]
    aid = world["assets"][0]
    for seed in (5, 6):
        assert (
            client.post(
                f"/v1/assets/{aid}/valuations",
                json={"as_of": AS_OF, "paths": 50, "seed": seed},
                headers=bank,
            ).status_code
            == 201
        )
    q = world["quote"]
    assert (
        client.post(
            "/v1/loans",
            json=loan_body([aid], principal=round(q["max_principal"] / 10, 2)),
            headers=bank,
        ).status_code
        == 201
    )
    for _ in range(3):
        assert client.post("/v1/securitizations", json=DEAL, headers=fm).status_code == 201
    client.post("/v1/scenarios", json={"name": "zz_mine", "shocks": {}}, headers=risk)
    for _ in range(3):
        assert (
            client.post(
                "/v1/stress-runs", json={"scenario": "baseline", "paths": 16}, headers=risk
            ).status_code
            == 202
        )
    assert get_jobs(app).wait(timeout=120)
    lists = [
        (f"/v1/assets/{aid}/valuations", fm, 3),
        ("/v1/quotes", fm, 2),
        ("/v1/loans", bank, 2),
        ("/v1/securitizations", fm, 3),
        ("/v1/scenarios", risk, 8),
        ("/v1/stress-runs", risk, 3),
    ]
    for path, headers, at_least in lists:
        full = client.get(path, headers=headers).json()
        assert set(full) >= {"items", "next_cursor"}, path
        assert full["next_cursor"] is None, (
            path,
            len(full["items"]),
        )
        assert len(full["items"]) >= at_least, (
            path,
            len(full["items"]),
        )
        walked = _walk(client, path, headers, 1)
        assert [_key(i) for i in walked] == [_key(i) for i in full["items"]], path
        assert len({str(_key(i)) for i in walked}) == len(walked), path
        assert client.get(f"{path}?limit=500", headers=headers).status_code == 200
        assert client.get(f"{path}?limit=501", headers=headers).status_code == 422, path


def test_booked_registry_amounts_are_rounded_to_the_minor_unit(client, make_key) -> None:
    """The API contract: amounts are rounded to the currency's minor unit where they are booked
    (regression: cost and comparable amounts were stored with four decimals in any currency)."""
    reg = make_key("registrar")
    profile = copy.deepcopy(SAMPLES.assets[0].profile)
    aid = client.post("/v1/assets", json=profile, headers=reg).json()["id"]
    costs = [
        {
            "category": "storage",
            "amount": 1000.006,
            "currency": "CNY",
            "incurred_on": "2025-01-01",
            "recurring_months": 0,
        },
        {
            "category": "compute",
            "amount": 1000.6,
            "currency": "JPY",
            "incurred_on": "2025-01-01",
            "recurring_months": 0,
        },
    ]
    r = client.post(f"/v1/assets/{aid}/costs", json=costs, headers=reg)
    assert r.status_code == 201, r.text
    assert [c["amount"] for c in r.json()["items"]] == [1000.01, 1001.0]
    stored = client.get(f"/v1/assets/{aid}/costs", headers=reg).json()["items"]
    assert [c["amount"] for c in stored] == [1000.01, 1001.0]
    comp = {
        "category": "consumer",
        "price": 4_200_000.129,
        "currency": "CNY",
        "traded_on": "2025-06-15",
        "records": 8_000_000,
        "quality_score": 0.88,
        "rights_scope": "processing_use",
    }
    r = client.post("/v1/comparables", json=comp, headers=reg)
    assert r.status_code == 201, r.text
    assert r.json()["items"][0]["price"] == 4_200_000.13


def test_portfolio_expected_loss_is_the_sum_of_the_loans(client, world) -> None:
    lid = world["loan"]["id"]
    risk = client.get(f"/v1/loans/{lid}/risk", headers=world["bank"]).json()
    loan_el = risk["pd"] * risk["lgd"] * risk["ead"]  # EL = PD x LGD x EAD, unrounded
    for method in ("recursion",):  # (lhp is refused for a one-loan book; mc is simulated)
        p = client.get(f"/v1/portfolio/risk?method={method}", headers=world["bank"]).json()
        assert p["expected_loss"] == pytest.approx(loan_el, rel=1e-6, abs=1e-6), (
            method,
            p["expected_loss"],
            loan_el,
        )
