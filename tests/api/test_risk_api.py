"""Risk endpoints: scenarios, stress runs as jobs (202 flow), results, failures, tenancy."""

from __future__ import annotations

import copy
import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa

from api.job_queue import get_jobs
from api.services import risk as risk_service
from models.risk import StressResult, StressRun
from risk.inputs import RunConfig
from samples.data_assets import generate_samples

PROBLEM = "application/problem+json"
SAMPLES = generate_samples(11, n_assets=3)


def _csv(frame) -> str:
    lines = ["month,metric,value"]
    lines += [
        f"{m:%Y-%m},{k},{v!r}"
        for m, k, v in frame[["month", "metric", "value"]].itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def book(client, make_key):
    """Three registered sample assets of tenant-a with their signals."""
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
    return ids


def _wait(client, app, run_id: str, headers) -> dict:
    assert get_jobs(app).wait(timeout=60)
    r = client.get(f"/v1/stress-runs/{run_id}", headers=headers)
    assert r.status_code == 200
    return r.json()


def test_scenarios_list_builtins_and_store_tenant_scenarios(client, make_key) -> None:
    risk = make_key("risk", "tenant-a")
    r = client.get("/v1/scenarios", headers=risk)
    assert r.status_code == 200
    names = [s["name"] for s in r.json()["items"]]
    assert {
        "baseline",
        "rates_up_200bp",
        "data_demand_slump",
        "regulatory_cross_border",
        "ai_obsolescence",
        "downturn_credit",
        "severe_combined",
    } <= set(names)
    body = {"name": "harsh_credit", "extends": "downturn_credit", "shocks": {"pd_multiplier": 4.0}}
    r = client.post("/v1/scenarios", json=body, headers=risk)
    assert r.status_code == 201, r.text
    assert r.json()["shocks"]["pd_multiplier"] == 4.0
    assert r.json()["shocks"]["downturn_lgd"]
    assert client.post("/v1/scenarios", json=body, headers=risk).status_code == 409
    mine = [
        s for s in client.get("/v1/scenarios", headers=risk).json()["items"] if not s["builtin"]
    ]
    assert [s["name"] for s in mine] == ["harsh_credit"]
    other = make_key("risk", "tenant-b")
    theirs = [
        s for s in client.get("/v1/scenarios", headers=other).json()["items"] if not s["builtin"]
    ]
    assert theirs == []
    page = client.get("/v1/scenarios?limit=3", headers=risk).json()
    assert len(page["items"]) == 3
    assert page["next_cursor"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "shocks": {"pd_multiplier": -2}}, "shocks.pd_multiplier"),
        ({"name": "x", "shocks": {"downturn_lgd": "yes"}}, "shocks.downturn_lgd"),
        ({"name": "x", "horizon_months": 0}, "horizon_months"),
        ({"name": "x", "extends": "nope"}, "extends"),
    ],
)
def test_bad_scenario_is_422_naming_the_field(client, make_key, body, field) -> None:
    risk = make_key("risk", "tenant-a")
    r = client.post("/v1/scenarios", json=body, headers=risk)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in r.json()["errors"]] == [field]
    r = client.post("/v1/stress-runs", json={"scenario": body}, headers=risk)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == f"scenario.{field}"


def test_roles_and_auth(client, make_key) -> None:
    assert client.get("/v1/scenarios").status_code == 401
    assert client.get("/v1/scenarios", headers=make_key("bank")).status_code == 403
    assert (
        client.post(
            "/v1/stress-runs", json={"scenario": "baseline"}, headers=make_key("registrar")
        ).status_code
        == 403
    )


def test_stress_run_202_flow_json_and_csv(client, app, make_key, book, session_factory) -> None:
    risk = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "data_demand_slump", "paths": 32, "as_of": "2026-01-01"},
        headers=risk,
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert r.json()["status"] in {"queued", "running", "succeeded"}
    assert r.headers["location"] == f"/v1/stress-runs/{run_id}"
    status = _wait(client, app, run_id, risk)
    assert status["status"] == "succeeded", status
    assert status["progress"] == 1.0
    assert status["record"]["positions"]["assets"] == 3
    assert status["record"]["as_of"] == "2026-01-01"
    assert status["record"]["requested"]["paths"] == 32 == status["record"]["n_paths"]
    res = client.get(f"/v1/stress-runs/{run_id}/results", headers=risk)
    assert res.status_code == 200
    doc = res.json()
    assert doc["run_id"] == run_id
    assert doc["scenario"] == "data_demand_slump"
    cv = doc["aggregate"]["collateral_value"]
    assert set(cv) == {"base", "stressed", "delta"}
    assert cv["stressed"] < cv["base"]
    assert cv["delta"] == pytest.approx(cv["stressed"] - cv["base"])
    assert {p["id"] for p in doc["positions"]} == {str(i) for i in book}
    # the stored results read back in the shape the run gives in memory (one document)
    cfg = RunConfig(n_paths=32, seed=status["record"]["seed"])
    again, _ = risk_service.stress_now(
        session_factory, "tenant-a", ["data_demand_slump"], as_of=date(2026, 1, 1), config=cfg
    )
    memory = again[0].to_json(run_id)
    assert memory["aggregate"].keys() == doc["aggregate"].keys()
    for metric, cell in memory["aggregate"].items():
        assert cell == pytest.approx(doc["aggregate"][metric], rel=1e-12)
    assert [p["id"] for p in memory["positions"]] == [p["id"] for p in doc["positions"]]
    assert memory["scenario_definition"] == doc["scenario_definition"]
    text = client.get(f"/v1/stress-runs/{run_id}/results", headers={**risk, "Accept": "text/csv"})
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert rows[0].keys() >= {"run_id", "kind", "id", "metric", "base", "stressed", "delta"}
    assert any(r["kind"] == "aggregate" and r["metric"] == "collateral_value" for r in rows)
    # another tenant sees neither the run nor its results
    other = make_key("risk", "tenant-b")
    assert client.get(f"/v1/stress-runs/{run_id}", headers=other).status_code == 404
    assert client.get(f"/v1/stress-runs/{run_id}/results", headers=other).status_code == 404


def test_inline_scenario_run(client, app, make_key, book) -> None:
    risk = make_key("risk", "tenant-a")
    inline = {
        "name": "inline_slump",
        "extends": "rates_up_200bp",
        "shocks": {"revenue_multiplier_by_category": {"consumer": 0.5}},
    }
    r = client.post("/v1/stress-runs", json={"scenario": inline, "paths": 16}, headers=risk)
    assert r.status_code == 202
    assert _wait(client, app, r.json()["id"], risk)["status"] == "succeeded"


def test_failed_job_is_marked_failed_with_nothing_partial(
    client, app, make_key, book, session_factory, monkeypatch
) -> None:
    risk = make_key("risk", "tenant-a")
    seen: list[float] = []

    def boom(run_id: str) -> None:
        with session_factory() as s:
            seen.append(s.get(StressRun, run_id).progress)
        raise RuntimeError("simulated worker crash")

    monkeypatch.setattr(risk_service, "before_write_hook", boom)
    r = client.post(
        "/v1/stress-runs", json={"scenario": "severe_combined", "paths": 16}, headers=risk
    )
    assert r.status_code == 202
    status = _wait(client, app, r.json()["id"], risk)
    assert status["status"] == "failed"
    assert "simulated worker crash" in status["error"]
    assert seen
    assert 0.0 < seen[0] < 1.0
    with session_factory() as s:
        n = s.execute(sa.select(sa.func.count()).select_from(StressResult)).scalar_one()
    assert n == 0
    res = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk)
    assert res.status_code == 409


def test_unknown_run_is_404(client, make_key) -> None:
    r = client.get("/v1/stress-runs/987654", headers=make_key("risk"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)
    r = client.get("/v1/stress-runs/doesnotexist", headers=make_key("risk"))  # ids are integers
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "run_id"


def test_results_of_a_queued_run_are_not_ready(client, make_key, session_factory) -> None:
    risk = make_key("risk", "tenant-a")
    with session_factory() as s:
        run = risk_service.create_run(s, "baseline", tenant="tenant-a", actor="test")
    r = client.get(f"/v1/stress-runs/{run.id}/results", headers=risk)
    assert r.status_code == 409
    assert client.get(f"/v1/stress-runs/{run.id}", headers=risk).json()["status"] == "queued"


def _insert_loan(session_factory, asset_id: int, tenant: str, principal: float) -> int:
    from datetime import date
    from decimal import Decimal

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
                amount=d("1000"),
                asset_value=d("4000"),
                lending_value=d("2000"),
                haircut=0.5,
                currency="CNY",
            )
        )
        s.commit()
        return int(loan.id)


def test_run_includes_the_tenants_loans(client, app, make_key, book, session_factory) -> None:
    mine = _insert_loan(session_factory, book[0], "tenant-a", 50_000.0)
    _insert_loan(session_factory, book[1], "tenant-b", 70_000.0)  # not in tenant-a's book
    risk = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "downturn_credit", "paths": 16, "as_of": "2026-01-01"},
        headers=risk,
    )
    status = _wait(client, app, r.json()["id"], risk)
    assert status["status"] == "succeeded", status
    assert status["record"]["positions"]["loans"] == 1
    doc = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk).json()
    loan = next(p for p in doc["positions"] if p["kind"] == "loan")
    assert loan["id"] == str(mine)
    assert loan["pd"]["stressed"] == pytest.approx(2.5 * loan["pd"]["base"])
    assert loan["lgd"]["stressed"] >= 0.45 + 0.15 - 1e-12
    # half the asset's lending value backs the loan: half its value is its collateral
    asset = next(p for p in doc["positions"] if p["kind"] == "asset" and p["id"] == str(book[0]))
    assert loan["collateral_value"]["base"] == pytest.approx(
        0.5 * asset["collateral_value"]["base"], rel=1e-12
    )


def test_run_includes_the_tenants_securitizations(
    client, app, make_key, book, session_factory
) -> None:
    import json as _json

    from models.products import Securitization, SecuritizationTranche

    loans = [
        _insert_loan(session_factory, book[i % 3], "tenant-a", 20_000.0 + 1000 * i)
        for i in range(4)
    ]
    with session_factory() as s:
        deal = Securitization(
            tenant="tenant-a",
            name="d",
            currency="CNY",
            pool_balance=86_000.0,
            note_balance=86_000.0,
            spec=_json.dumps({"pool": {"loan_ids": loans + [999]}}),
            pool_snapshot="{}",
            created_by="test",
        )
        s.add(deal)
        s.flush()
        deal_id = deal.id
        for seniority, (name, a, d, c) in enumerate(
            (("senior", 0.0, 0.8, 0.03), ("equity", 0.8, 1.0, 0.1))
        ):
            # a deliberately odd order of attachment: equity here is the top slice
            s.add(
                SecuritizationTranche(
                    securitization_id=deal_id,
                    seniority=seniority,
                    name=name,
                    attach=a,
                    detach=d,
                    balance=86_000.0 * (d - a),
                    coupon=c,
                )
            )
        s.commit()
    risk = make_key("risk", "tenant-a")
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "downturn_credit", "paths": 16, "as_of": "2026-01-01"},
        headers=risk,
    )
    status = _wait(client, app, r.json()["id"], risk)
    assert status["status"] == "succeeded", status
    assert status["record"]["positions"]["tranches"] == 2
    doc = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk).json()
    tranches = {p["id"]: p for p in doc["positions"] if p["kind"] == "tranche"}
    assert set(tranches) == {f"{deal_id}:senior", f"{deal_id}:equity"}
    low, high = tranches[f"{deal_id}:senior"], tranches[f"{deal_id}:equity"]  # [0, .8] vs [.8, 1]
    assert low["tranche_expected_loss"]["stressed"] > low["tranche_expected_loss"]["base"]
    assert high["tranche_expected_loss"]["base"] < low["tranche_expected_loss"]["base"]
    assert low["price"]["delta"] < 0
    assert "tranche_expected_loss" in doc["aggregate"]
    assert "price" in doc["aggregate"]


def test_unreachable_dask_scheduler_fails_the_run(session_factory, monkeypatch) -> None:
    monkeypatch.setattr(risk_service, "DASK_CONNECT_TIMEOUT_S", 1.0)
    with session_factory() as s:
        run = risk_service.create_run(s, "baseline", tenant="tenant-a", actor="test")
    # nothing listens on port 9 (discard); the client gives up and the run is failed
    risk_service.execute_run(session_factory, run.id, dask_address="tcp://127.0.0.1:9")
    with session_factory() as s:
        stored = s.get(StressRun, run.id)
        assert stored.status == "failed"
        assert stored.error


def test_list_runs_is_tenant_scoped_and_paginated(client, make_key, session_factory) -> None:
    with session_factory() as s:
        ids = [
            risk_service.create_run(s, "baseline", tenant="tenant-a", actor="t").id
            for _ in range(3)
        ]
        risk_service.create_run(s, "baseline", tenant="tenant-b", actor="t")
    risk = make_key("risk", "tenant-a")
    first = client.get("/v1/stress-runs?limit=2", headers=risk).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = client.get(
        f"/v1/stress-runs?limit=2&cursor={first['next_cursor']}", headers=risk
    ).json()
    seen = [r["id"] for r in first["items"] + second["items"]]
    assert sorted(seen) == sorted(ids)
    assert second["next_cursor"] is None


def test_loans_enter_at_their_outstanding_balance_at_as_of(
    client, app, make_key, book, session_factory
) -> None:
    """An annuity loan of 12 months from 2026-01-01: at 2026-07-15 six instalments are
    paid, so its EAD is the schedule's balance then; at 2027-06-01 it has matured."""
    from datetime import date

    from credit.loans import schedule

    lid = _insert_loan(session_factory, book[0], "tenant-a", 60_000.0)
    risk = make_key("risk", "tenant-a")
    rows = schedule(60_000.0, 0.05, date(2026, 1, 1), 12, "annuity")
    paid = rows[rows["date"] <= date(2026, 7, 15)]
    expected = float(paid["balance"].iloc[-1])
    assert 0 < expected < 60_000.0
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "baseline", "paths": 16, "as_of": "2026-07-15"},
        headers=risk,
    )
    assert _wait(client, app, r.json()["id"], risk)["status"] == "succeeded"
    doc = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk).json()
    loan = next(p for p in doc["positions"] if p["kind"] == "loan")
    assert loan["id"] == str(lid)
    asset = next(p for p in doc["positions"] if p["kind"] == "asset" and p["id"] == str(book[0]))
    # LTV = EAD / pledged collateral (half the asset's value)
    assert loan["ltv"]["base"] * 0.5 * asset["collateral_value"]["base"] == pytest.approx(
        expected, rel=1e-9
    )
    assert doc["record"]["booked"]["ead"] == pytest.approx(60_000.0)
    r = client.post(
        "/v1/stress-runs",
        json={"scenario": "baseline", "paths": 16, "as_of": "2027-06-01"},
        headers=risk,
    )
    status = _wait(client, app, r.json()["id"], risk)
    assert status["record"]["positions"]["loans"] == 0
    assert any(f"loan {lid} left out: matured" in n for n in status["record"]["notes"])


@pytest.mark.parametrize(
    "position", [{"id": 1}, {"offset": 50}, {"at": "x", "id": "y"}, {"at": 5, "id": "y"}]
)
def test_a_cursor_of_another_list_is_422(client, app, make_key, position) -> None:
    from api.pagination import encode_cursor

    cursor = encode_cursor(position, app.state.settings.secret_key)
    risk = make_key("risk", "tenant-a")
    r = client.get(f"/v1/stress-runs?cursor={cursor}", headers=risk)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]
    if "offset" not in position:
        r = client.get(f"/v1/scenarios?cursor={cursor}", headers=risk)
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["cursor"]
    bad = encode_cursor({"offset": -1}, app.state.settings.secret_key)
    assert client.get(f"/v1/scenarios?cursor={bad}", headers=risk).status_code == 422
