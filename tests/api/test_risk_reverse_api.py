"""Reverse stress (a stress run's ``reverse`` block) and POST /v1/sensitivities over HTTP."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest

from api.job_queue import get_jobs
from risk.library import get_builtin
from risk.parsing import parse_scenario
from samples.data_assets import generate_samples

PROBLEM = "application/problem+json"
SAMPLES = generate_samples(17, n_assets=3)
AS_OF = "2026-01-01"


def _builtin(name: str):
    return get_builtin(name)


def _csv(frame) -> str:
    lines = ["month,metric,value"]
    lines += [
        f"{m:%Y-%m},{k},{v!r}"
        for m, k, v in frame[["month", "metric", "value"]].itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def _insert_loan(
    session_factory, asset_id: int, tenant: str, principal: float, pledged_share: float
) -> int:
    """A live loan of ``tenant`` backed by ``pledged_share`` of the asset's lending value."""
    from models.credit import Loan, Pledge

    d = Decimal
    with session_factory() as s:
        loan = Loan(
            borrower="b",
            currency="CNY",
            principal=d(str(principal)),
            start_date=date(2026, 1, 1),
            tenor_months=12,
            amortization="annuity",
            frequency_months=1,
            day_count="ACT/365F",
            annual_rate=0.05,
            rate_funding=0.02,
            rate_expected_loss=0.01,
            rate_capital=0.01,
            rate_costs=0.01,
            pd=0.02,
            pd_source="rating",
            lgd=0.45,
            lgd_economic=0.3,
            lgd_regulatory=0.45,
            ead=d(str(principal)),
            expected_loss=d("0"),
            capital=d("0"),
            rwa=d("0"),
            capital_k=0.05,
            collateral_value=d("0"),
            lending_value=d("0"),
            haircut=0.4,
            ltv=0.5,
            asset_correlation=0.2,
            paths=100,
            seed=1,
            as_of=date(2026, 1, 1),
            tenant=tenant,
        )
        s.add(loan)
        s.flush()
        s.add(
            Pledge(
                loan_id=loan.id,
                asset_id=asset_id,
                amount=d(str(1000 * pledged_share)),
                asset_value=d("4000"),
                lending_value=d("1000"),
                haircut=0.5,
                currency="CNY",
            )
        )
        s.commit()
        return int(loan.id)


@pytest.fixture
def book(client, make_key, session_factory):
    """Three registered sample assets of tenant-a, each backing one loan of tenant-a."""
    reg = make_key("registrar", "tenant-a")
    ids = []
    for sample in SAMPLES.assets:
        r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=reg)
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        r = client.put(
            f"/v1/assets/{aid}/signals",
            content=_csv(sample.signals),
            headers={**reg, "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        ids.append(aid)
    loans = [
        _insert_loan(session_factory, aid, "tenant-a", 40_000.0 + 5_000.0 * i, 0.8)
        for i, aid in enumerate(ids)
    ]
    return {"assets": ids, "loans": loans}


def _run(client, app, headers, body: dict) -> tuple[dict, dict]:
    r = client.post("/v1/stress-runs", json={"paths": 32, "as_of": AS_OF, **body}, headers=headers)
    assert r.status_code == 202, r.text
    assert get_jobs(app).wait(timeout=60)
    status = client.get(f"/v1/stress-runs/{r.json()['id']}", headers=headers).json()
    assert status["status"] == "succeeded", status
    res = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=headers)
    assert res.status_code == 200
    return status, res.json()


def test_reverse_expected_loss_budget_breaks_where_reported(client, app, make_key, book) -> None:
    risk = make_key("risk", "tenant-a")
    _, plain = _run(client, app, risk, {"scenario": "data_demand_slump"})
    assert plain["reverse"] is None
    el = plain["aggregate"]["expected_loss"]
    assert el["stressed"] > el["base"] > 0
    budget = 0.5 * (el["base"] + el["stressed"])
    status, doc = _run(
        client,
        app,
        risk,
        {
            "scenario": "data_demand_slump",
            "reverse": {"limit": "expected_loss_budget", "threshold": budget},
        },
    )
    rev = doc["reverse"]
    assert rev == status["record"]["reverse"]
    assert rev["limit"] == "expected_loss_budget"
    assert rev["threshold"] == budget
    assert rev["breached"]
    assert rev["method"] == "brentq"
    assert 0.0 < rev["scale"] < 1.0
    assert rev["metric_at_scale"] == pytest.approx(budget, rel=1e-3)
    assert rev["base_metric"] == pytest.approx(el["base"], rel=1e-12)
    assert "CNY" in rev["unit"]
    assert "broken at" in rev["reading"]
    # the stress figures of the same run are those of the plain run (same seed and paths)
    assert doc["aggregate"]["expected_loss"] == pytest.approx(el)
    # independently: a run of the scenario scaled by the reported scale hits the budget
    scaled = parse_scenario(
        {"name": "data_demand_slump_scaled", "extends": "data_demand_slump"}, _builtin
    )
    inline = scaled.scaled(rev["scale"]).as_dict()
    inline.pop("extends", None)
    _, at_scale = _run(client, app, risk, {"scenario": inline})
    assert at_scale["aggregate"]["expected_loss"]["stressed"] == pytest.approx(budget, rel=1e-3)


def test_reverse_unbroken_and_margin_calls(client, app, make_key, book, session_factory) -> None:
    risk = make_key("risk", "tenant-a")
    _, doc = _run(
        client,
        app,
        risk,
        {"scenario": "baseline", "reverse": {"limit": "expected_loss_budget", "threshold": 1e12}},
    )
    rev = doc["reverse"]
    assert rev["breached"] is False
    assert rev["scale"] is None
    assert rev["method"] == "scan"
    assert "not broken" in rev["reading"]
    # a loan sized at 80 % of the margin-call LTV on half of asset 0 (its pledges of 0.8
    # and 0.8 of the lending value are scaled to half each): stress breaks it
    from risk.book import DEFAULT_MARGIN_CALL_LTV

    _, plain = _run(client, app, risk, {"scenario": "baseline"})
    asset0 = next(
        p for p in plain["positions"] if p["kind"] == "asset" and p["id"] == str(book["assets"][0])
    )
    principal = round(0.5 * asset0["collateral_value"]["base"] * 0.8 * DEFAULT_MARGIN_CALL_LTV)
    _insert_loan(session_factory, book["assets"][0], "tenant-a", principal, 0.8)
    _, doc = _run(
        client,
        app,
        risk,
        {
            "scenario": "severe_combined",
            "reverse": {"limit": "margin_calls", "threshold": 0, "max_scale": 2},
        },
    )
    assert doc["aggregate"]["margin_calls"]["base"] == 0
    assert doc["aggregate"]["margin_calls"]["stressed"] >= 1
    rev = doc["reverse"]
    assert rev["limit"] == "margin_calls"
    assert rev["max_scale"] == 2.0
    assert rev["breached"]
    assert rev["method"] == "bisect"
    assert 0.0 < rev["scale"] <= 1.0
    assert rev["metric_at_scale"] >= 1
    lo, hi = rev["bracket"]
    assert hi == rev["scale"]
    assert 0.0 < hi - lo <= rev["xtol"]
    # just below the break no loan is in margin call, at it at least one is
    scenario = parse_scenario({"name": "s", "extends": "severe_combined"}, _builtin)
    for scale, calls in ((lo, 0), (hi, 1)):
        inline = scenario.scaled(scale).as_dict()
        inline.pop("extends", None)
        _, at = _run(client, app, risk, {"scenario": inline})
        assert (at["aggregate"]["margin_calls"]["stressed"] >= 1) == bool(calls), scale


def test_reverse_senior_tranche_loss_without_tranches_fails_the_run_clearly(
    client, app, make_key, book
) -> None:
    risk = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/stress-runs",
        json={
            "scenario": "downturn_credit",
            "paths": 16,
            "reverse": {"limit": "senior_tranche_loss"},
        },
        headers=risk,
    )
    assert r.status_code == 202
    assert get_jobs(app).wait(timeout=60)
    status = client.get(f"/v1/stress-runs/{r.json()['id']}", headers=risk).json()
    assert status["status"] == "failed"
    assert "tranches" in status["error"]
    assert status["record"]["requested"]["reverse"] == {
        "limit": "senior_tranche_loss",
        "threshold": 1e-4,
        "max_scale": 4.0,
    }
    assert client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk).status_code == 409


@pytest.mark.parametrize(
    ("reverse", "field"),
    [
        ({"limit": "var_budget", "threshold": 1}, "reverse.limit"),
        ({"threshold": 1}, "reverse.limit"),
        ({"limit": "expected_loss_budget"}, "reverse.threshold"),
        ({"limit": "expected_loss_budget", "threshold": -1}, "reverse.threshold"),
        ({"limit": "margin_calls", "threshold": 1.5}, "reverse.threshold"),
        ({"limit": "margin_calls", "threshold": 1, "max_scale": 0}, "reverse.max_scale"),
        ({"limit": "margin_calls", "threshold": 1, "max_scale": 50}, "reverse.max_scale"),
        ({"limit": "margin_calls", "threshold": 1, "scale": 2}, "reverse.scale"),
        ("expected_loss_budget", "reverse"),
        ({"limit": "margin_calls", "threshold": True}, "reverse.threshold"),
        ({"limit": "expected_loss_budget", "threshold": "5"}, "reverse.threshold"),
        ({"limit": "expected_loss_budget", "threshold": 1, "max_scale": True}, "reverse.max_scale"),
    ],
)
def test_bad_reverse_is_422_naming_the_field(
    client, make_key, session_factory, reverse, field
) -> None:
    import sqlalchemy as sa

    from models.risk import StressRun

    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "baseline", "reverse": reverse},
        headers=make_key("risk", "tenant-a"),
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    with session_factory() as s:
        n = s.execute(sa.select(sa.func.count()).select_from(StressRun)).scalar_one()
    assert n == 0  # nothing written


def test_reverse_run_of_another_tenant_is_404(client, app, make_key, book) -> None:
    risk = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/stress-runs",
        json={
            "scenario": "baseline",
            "paths": 16,
            "reverse": {"limit": "expected_loss_budget", "threshold": 1e12},
        },
        headers=risk,
    )
    assert get_jobs(app).wait(timeout=60)
    other = make_key("risk", "tenant-b")
    for path in (f"/v1/stress-runs/{r.json()['id']}", f"/v1/stress-runs/{r.json()['id']}/results"):
        res = client.get(path, headers=other)
        assert res.status_code == 404
        assert res.headers["content-type"].startswith(PROBLEM)


# ----------------------------------------------------------------------------- sensitivities
def test_sensitivities_per_position_and_total(client, make_key, book) -> None:
    risk = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/sensitivities",
        json={"paths": 32, "as_of": AS_OF, "bumps": {"rate_bp": 2.0}},
        headers=risk,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["bumps"] == {"rate_bp": 2.0, "spread_bp": 1.0, "revenue": 0.01, "correlation": 0.01}
    assert doc["as_of"] == AS_OF
    assert doc["currency"] == "CNY"
    assert doc["paths"] == 32
    assert set(doc["units"]) == {"dv01", "cs01", "revenue_elasticity", "correlation_sensitivity"}
    by_kind: dict[str, list[dict]] = {}
    for p in doc["positions"]:
        by_kind.setdefault(p["kind"], []).append(p)
    assert {p["id"] for p in by_kind["asset"]} == {str(a) for a in book["assets"]}
    assert {p["id"] for p in by_kind["loan"]} == {str(x) for x in book["loans"]}
    for a in by_kind["asset"]:
        assert a["dv01"] < 0  # higher rates, lower value
        assert a["cs01"] == 0.0  # assets carry no credit spread
        # revenue scales every cash flow: the value is linear in it (elasticity one)
        assert a["revenue_elasticity"] == pytest.approx(1.0, rel=1e-9)
    for ln in by_kind["loan"]:
        assert ln["dv01"] < 0
        assert ln["cs01"] < 0
        assert ln["dv01"] == pytest.approx(ln["cs01"], rel=1e-6)  # both shift its discounting
        assert ln["correlation_sensitivity"] == 0.0
    totals = doc["totals"]
    for kind in ("asset", "loan"):
        assert totals[kind]["dv01"] == pytest.approx(sum(p["dv01"] for p in by_kind[kind]))
    assert totals["total"]["dv01"] == pytest.approx(
        totals["asset"]["dv01"] + totals["loan"]["dv01"]
    )
    assert totals["total"]["revenue_elasticity"] is None  # no single risk figure


def test_sensitivities_of_a_large_book_are_a_job_with_the_same_answer(
    client, app, make_key, book, monkeypatch
) -> None:
    """Above the work threshold (here lowered to one position-path) the answer is 202 and
    a job; its result is the synchronous answer, figure for figure."""
    from api.services import sensitivities as sensitivities_service

    risk = make_key("risk", "tenant-a")
    request = {"paths": 32, "as_of": AS_OF, "seed": 5}
    sync = client.post("/v1/sensitivities", json=request, headers=risk)
    assert sync.status_code == 200
    monkeypatch.setattr(sensitivities_service, "SYNC_SENSITIVITY_WORK", 1)
    r = client.post("/v1/sensitivities", json=request, headers=risk)
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "sensitivities"
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
    get_jobs(app).wait(timeout=120)
    job = client.get(r.headers["Location"], headers=risk).json()
    assert job["status"] == "succeeded", job
    assert job["result"]["positions"] == sync.json()["positions"]
    assert job["result"]["totals"] == sync.json()["totals"]
    assert (
        client.get(r.headers["Location"], headers=make_key("risk", "tenant-b")).status_code == 404
    )


def test_sensitivities_are_tenant_scoped_and_validated(client, make_key, book) -> None:
    other = make_key("risk", "tenant-b")
    r = client.post("/v1/sensitivities", json={"paths": 16}, headers=other)
    assert r.status_code == 200
    assert r.json()["positions"] == []
    assert client.post("/v1/sensitivities", headers=other).status_code == 200  # empty body
    risk = make_key("risk", "tenant-a")
    for body, field in (
        ({"bumps": {"rate_bp": 0}}, "bumps.rate_bp"),
        ({"bumps": {"correlation": 0.5}}, "bumps.correlation"),
        ({"bumps": {"fx": 1}}, "bumps.fx"),
        ({"horizon_months": 0}, "horizon_months"),
        ({"bumps": {"rate_bp": True}}, "bumps.rate_bp"),
        ({"bumps": {"revenue": "0.01"}}, "bumps.revenue"),
        ({"as_of": "9999-12-01"}, "as_of"),
        ({"as_of": "1900-12-31"}, "as_of"),
        ({"paths": 1}, "paths"),
    ):
        r = client.post("/v1/sensitivities", json=body, headers=risk)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM)
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert client.post("/v1/sensitivities", json={}, headers=make_key("bank")).status_code == 403
    assert client.post("/v1/sensitivities", json={}).status_code == 401


def test_stress_run_as_of_outside_the_curves_is_422(client, make_key) -> None:
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "baseline", "as_of": "2150-01-01"},
        headers=make_key("risk", "tenant-a"),
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["as_of"]
