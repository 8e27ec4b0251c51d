"""Products API: create and price securitizations, data notes, errors and tenant isolation."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from api import worker as job_worker
from api.job_queue import get_jobs
from api.services import pricing as pricing_service
from models.jobs import Job
from models.products import SecuritizationPricing

RECEIVABLES = [
    {
        "receivable_id": f"R{i}",
        "cashflows": [1_000_000.0 + 10_000.0 * i] * 24,
        "pd": 0.03,
        "recovery_rate": 0.2,
    }
    for i in range(9)
]


def deal_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "data licence ABS 2025-1",
        "currency": "CNY",
        "pool": {
            "receivables": copy.deepcopy(RECEIVABLES),
            "discount_rate": 0.04,
            "recovery_lag_months": 3,
        },
        "tranches": [
            {
                "name": "A",
                "attach": 0.30,
                "detach": 1.00,
                "coupon": 0.022,
                "guarantee": {"guarantor_pd": 0.001},
            },
            {"name": "B", "attach": 0.15, "detach": 0.30, "coupon": 0.035},
            {"name": "C", "attach": 0.00, "detach": 0.15, "spread_bp": 500},
        ],
        "senior_fee_rate": 0.003,
        "reserve": {"interest_months": 3},
        "principal_rule": "sequential",
        "triggers": {
            "cumulative_default": 0.1,
            "dscr": [
                {
                    "action": "trap",
                    "tiers": [
                        {"threshold": 1.4, "fraction": 0.5},
                        {"threshold": 1.3, "fraction": 1.0},
                    ],
                }
            ],
        },
    }
    body.update(over)
    return body


def test_create_read_and_price(client, make_key) -> None:
    fm = make_key("fund_manager")
    r = client.post("/v1/securitizations", json=deal_body(), headers=fm)
    assert r.status_code == 201, r.text
    deal = r.json()
    assert [t["name"] for t in deal["tranches"]] == ["A", "B", "C"]
    assert deal["assets"] == 9
    assert sum(t["balance"] for t in deal["tranches"]) == pytest.approx(
        deal["pool_balance"], rel=1e-9
    )
    got = client.get(f"/v1/securitizations/{deal['id']}", headers=make_key("risk"))
    assert got.status_code == 200
    assert got.json()["id"] == deal["id"]

    r = client.post(
        f"/v1/securitizations/{deal['id']}/price",
        json={"paths": 2000, "seed": 7, "correlation": 0.2, "as_of": "2025-06-30"},
        headers=fm,
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["seed"] == 7
    assert res["paths"] == 2000
    names = [t["name"] for t in res["tranches"]]
    assert names == ["A", "B", "C"]
    for t in res["tranches"]:
        for key in (
            "expected_loss",
            "prob_loss",
            "price",
            "fair_spread_bp",
            "wal_years",
            "duration",
            "yield",
            "risk_weight",
        ):
            assert key in t
        assert 0.0 <= t["prob_loss"] <= 1.0
    els = [t["expected_loss"] for t in res["tranches"]]
    assert els[0] <= els[1] <= els[2]
    be = [t["break_even_cdr"] for t in res["tranches"]]
    assert be[0] >= be[1] >= be[2]
    # the same seed reproduces the same figures
    again = client.post(
        f"/v1/securitizations/{deal['id']}/price",
        json={"paths": 2000, "seed": 7, "correlation": 0.2, "as_of": "2025-06-30"},
        headers=make_key("risk"),
    )
    assert again.json()["tranches"] == res["tranches"]
    runs = client.get(f"/v1/securitizations/{deal['id']}/prices", headers=fm).json()["items"]
    assert len(runs) == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["tranches"][1].update(detach=0.35), "tranches.1.detach"),  # B overlaps A
        (lambda b: b["tranches"][2].update(attach=0.2), "tranches.2.attach"),  # attach > detach
        (
            lambda b: b["tranches"].__setitem__(0, {"name": "A", "balance": -5.0, "coupon": 0.02}),
            "tranches.0.balance",
        ),
        (
            lambda b: b["pool"]["receivables"][0].update(cashflows=[-1.0, 2.0]),
            "pool.receivables.0.cashflows.0",
        ),
        (lambda b: b.update(principal_rule="turbo"), "principal_rule"),
    ],
)
def test_bad_structures_are_422_naming_the_field(client, make_key, mutate, field) -> None:
    body = deal_body()
    mutate(body)
    r = client.post("/v1/securitizations", json=body, headers=make_key("bank"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem


def test_unknown_loan_id_is_422_and_nothing_is_written(client, make_key, db_session) -> None:
    from sqlmodel import select

    from models.products import Securitization

    body = deal_body(pool={"loan_ids": ["999999"]})
    r = client.post("/v1/securitizations", json=body, headers=make_key("bank"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "pool.loan_ids.0"
    assert db_session.exec(select(Securitization)).all() == []


def test_other_tenant_gets_404_and_roles_are_enforced(client, make_key) -> None:
    r = client.post("/v1/securitizations", json=deal_body(), headers=make_key("bank"))
    sid = r.json()["id"]
    other = make_key("fund_manager", "tenant-b")
    assert client.get(f"/v1/securitizations/{sid}", headers=other).status_code == 404
    r = client.post(f"/v1/securitizations/{sid}/price", json={"paths": 100}, headers=other)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (
        client.post(
            "/v1/securitizations", json=deal_body(), headers=make_key("registrar")
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/v1/securitizations/{sid}/price", json={"paths": 100}, headers=make_key("bank")
        ).status_code
        == 403
    )
    assert client.post("/v1/securitizations", json=deal_body()).status_code == 401


def test_price_request_validation(client, make_key) -> None:
    fm = make_key("fund_manager")
    sid = client.post("/v1/securitizations", json=deal_body(), headers=fm).json()["id"]
    r = client.post(f"/v1/securitizations/{sid}/price", json={"correlation": 1.5}, headers=fm)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "correlation"
    r = client.post(
        f"/v1/securitizations/{sid}/price",
        json={"method": "lhp", "as_of": "2025-01-31"},
        headers=fm,
    )
    assert r.status_code == 200
    assert r.json()["method"] == "lhp"


def _insert_loan(
    session, tenant: str, principal: float, *, currency: str = "CNY", status: str = "live"
) -> int:
    from datetime import date
    from decimal import Decimal

    from models.credit import Loan

    zero = Decimal("0")
    loan = Loan(
        tenant=tenant,
        borrower="b",
        currency=currency,
        principal=Decimal(str(principal)),
        start_date=date(2025, 1, 1),
        tenor_months=24,
        amortization="annuity",
        frequency_months=1,
        day_count="ACT/365F",
        annual_rate=0.06,
        rate_funding=0.03,
        rate_expected_loss=0.01,
        rate_capital=0.01,
        rate_costs=0.01,
        pd=0.02,
        pd_source="rating",
        lgd=0.45,
        lgd_economic=0.45,
        lgd_regulatory=0.45,
        ead=Decimal(str(principal)),
        expected_loss=zero,
        capital=zero,
        rwa=zero,
        capital_k=0.08,
        collateral_value=zero,
        lending_value=zero,
        haircut=0.4,
        ltv=0.5,
        asset_correlation=0.15,
        status=status,
        paths=100,
        seed=1,
        as_of=date(2025, 1, 1),
    )
    session.add(loan)
    session.commit()
    assert loan.id is not None
    return loan.id


def test_pool_of_the_tenants_loans(client, make_key, db_session) -> None:
    mine = [_insert_loan(db_session, "tenant-a", p) for p in (5e6, 8e6, 12e6)]
    theirs = _insert_loan(db_session, "tenant-b", 7e6)
    usd = _insert_loan(db_session, "tenant-a", 7e6, currency="USD")
    repaid = _insert_loan(db_session, "tenant-a", 7e6, status="repaid")
    bank = make_key("bank")
    tranches = [
        {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.025},
        {"name": "B", "attach": 0.08, "detach": 0.2, "coupon": 0.04},
        {"name": "E", "attach": 0.0, "detach": 0.08, "coupon": 0.0},
    ]
    body = {
        "pool": {"loan_ids": [str(i) for i in mine], "cut_off_date": "2025-01-01"},
        "tranches": tranches,
    }
    r = client.post("/v1/securitizations", json=body, headers=bank)
    assert r.status_code == 201, r.text
    assert r.json()["pool_balance"] == pytest.approx(25e6)
    assert r.json()["assets"] == 3
    # seven months later the loans are pooled at their outstanding balance on their own
    # schedule (reference: credit.loans.schedule; the 2025-07-01 payment is the last before)
    from credit.loans import schedule

    later = client.post(
        "/v1/securitizations",
        headers=bank,
        json={
            "pool": {"loan_ids": [str(i) for i in mine], "cut_off_date": "2025-07-10"},
            "tranches": tranches,
        },
    )
    assert later.status_code == 201, later.text
    expected = sum(
        float(
            schedule(p, 0.06, "2025-01-01", 24, "annuity", 1, "ACT/365F")
            .set_index("date")
            .loc[date(2025, 7, 1), "balance"]
        )
        for p in (5e6, 8e6, 12e6)
    )
    assert later.json()["pool_balance"] == pytest.approx(expected, rel=1e-12)
    priced = client.post(
        f"/v1/securitizations/{later.json()['id']}/price",
        headers=make_key("fund_manager"),
        json={"method": "lhp", "correlation": 0.2},
    )
    assert priced.status_code == 200, priced.text
    assert priced.json()["as_of"] == "2025-07-10"  # priced at the cut-off by default
    early = client.post(
        f"/v1/securitizations/{later.json()['id']}/price",
        headers=make_key("fund_manager"),
        json={"method": "lhp", "correlation": 0.2, "as_of": "2025-08-01"},
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "as_of"
    for bad in (theirs, usd, repaid):
        body = {"pool": {"loan_ids": [str(mine[0]), str(bad)]}, "tranches": tranches}
        r = client.post("/v1/securitizations", json=body, headers=bank)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "pool.loan_ids.1"


def test_list_is_paged_and_per_tenant(client, make_key) -> None:
    bank = make_key("bank")
    ids = {
        client.post("/v1/securitizations", json=deal_body(), headers=bank).json()["id"]
        for _ in range(3)
    }
    client.post("/v1/securitizations", json=deal_body(), headers=make_key("bank", "tenant-b"))
    page = client.get("/v1/securitizations?limit=2", headers=bank).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = client.get(
        f"/v1/securitizations?limit=2&cursor={page['next_cursor']}", headers=bank
    ).json()
    assert rest["next_cursor"] is None
    assert {x["id"] for x in page["items"] + rest["items"]} == ids
    bad = client.get("/v1/securitizations?cursor=garbage", headers=bank)
    assert bad.status_code == 422


def test_pricing_history_is_paged_newest_first(client, make_key) -> None:
    bank, fm = make_key("bank"), make_key("fund_manager")
    sid = client.post("/v1/securitizations", json=deal_body(), headers=bank).json()["id"]
    runs = [
        client.post(
            f"/v1/securitizations/{sid}/price",
            headers=fm,
            json={"method": "lhp", "seed": seed, "break_even": False, "as_of": "2025-06-30"},
        ).json()["id"]
        for seed in (1, 2, 3)
    ]
    first = client.get(f"/v1/securitizations/{sid}/prices?limit=2", headers=fm).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = client.get(
        f"/v1/securitizations/{sid}/prices?limit=2&cursor={first['next_cursor']}", headers=fm
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    seen = [x["id"] for x in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(runs)
    assert seen[-1] == runs[0]
    assert client.get(f"/v1/securitizations/{sid}/prices?limit=501", headers=fm).status_code == 422
    other = client.post("/v1/securitizations", json=deal_body(), headers=bank).json()["id"]
    foreign = client.get(
        f"/v1/securitizations/{other}/prices?cursor={first['next_cursor']}", headers=fm
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "cursor"


def test_dates_outside_the_supported_range_are_422(client, make_key) -> None:
    bank, fm = make_key("bank"), make_key("fund_manager")
    sid = client.post("/v1/securitizations", json=deal_body(), headers=bank).json()["id"]
    r = client.post(f"/v1/securitizations/{sid}/price", headers=fm, json={"as_of": "9999-12-31"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "as_of"
    body = deal_body()
    body["pool"]["cut_off_date"] = "2150-01-01"
    r = client.post("/v1/securitizations", json=body, headers=bank)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "pool.cut_off_date"
    note = {"asset_id": 2**70, "share": 0.3, "term_months": 12}
    r = client.post("/v1/data-notes/price", headers=fm, json=note)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "asset_id"
    r = client.post(
        "/v1/data-notes/price", headers=fm, json={**note, "asset_id": 1, "as_of": "9999-12-31"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "as_of"


def test_cashflows_endpoint_json_and_csv(client, make_key) -> None:
    fm = make_key("fund_manager")
    deal = client.post("/v1/securitizations", json=deal_body(clean_up_call=0.1), headers=fm).json()
    url = f"/v1/securitizations/{deal['id']}/cashflows"
    r = client.get(url, headers=make_key("risk"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scenario"]["name"] == "base"
    need = {
        "class",
        "period",
        "interest_due",
        "interest_paid",
        "principal_paid",
        "writedown",
        "pdl_balance",
        "reserve",
        "trigger",
    }
    assert need <= set(body["columns"])
    assert need <= set(body["rows"][0])
    assert {row["class"] for row in body["rows"]} == {"A", "B", "C"}
    r = client.get(url, params={"cdr": 0.3, "cpr": 0.1, "severity": 0.8}, headers=fm)
    stressed = r.json()
    assert stressed["scenario"] == {"name": "custom", "cdr": 0.3, "cpr": 0.1, "severity": 0.8}
    assert sum(x["writedown"] for x in stressed["rows"]) > sum(x["writedown"] for x in body["rows"])
    csv = client.get(url, params={"cdr": 0.3}, headers={**fm, "Accept": "text/csv"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("class,period,date,interest_due")
    assert (
        client.get(url, params={"format": "csv"}, headers=fm).text
        == client.get(url, headers={**fm, "Accept": "text/csv"}).text
    )
    for params, field in (({"cdr": 1.5}, "cdr"), ({"scenario": "worst"}, "scenario")):
        bad = client.get(url, params=params, headers=fm)
        assert bad.status_code == 422, bad.text
        assert field in bad.text
    assert client.get(url, headers=make_key("fund_manager", tenant="other")).status_code == 404


def test_price_with_a_market_price_solves_the_margin(client, make_key) -> None:
    fm = make_key("fund_manager")
    deal = client.post("/v1/securitizations", json=deal_body(), headers=fm).json()
    url = f"/v1/securitizations/{deal['id']}/price"
    base = {"method": "lhp", "as_of": "2025-06-30", "break_even": False}
    r = client.post(url, json={**base, "discount_margin_bp": {"B": 300.0}}, headers=fm)
    assert r.status_code == 200, r.text
    b = next(t for t in r.json()["tranches"] if t["name"] == "B")
    assert b["discount_margin_bp"] == 300.0
    assert "shortfalls" in r.json()["expected_loss_basis"]
    back = client.post(url, json={**base, "market_price": {"B": b["price"]}}, headers=fm).json()
    b2 = next(t for t in back["tranches"] if t["name"] == "B")
    assert b2["discount_margin_bp"] == pytest.approx(300.0, abs=1e-6)
    assert b2["yield"] == pytest.approx(b["yield"], rel=1e-9)
    bad = client.post(url, json={**base, "market_price": {"Z": 99.0}}, headers=fm)
    assert bad.status_code == 422
    assert "market_price.Z" in bad.text


def test_price_with_the_stratified_engine(client, make_key) -> None:
    fm = make_key("fund_manager")
    deal = client.post("/v1/securitizations", json=deal_body(), headers=fm).json()
    r = client.post(
        f"/v1/securitizations/{deal['id']}/price",
        json={
            "method": "stratified",
            "paths": 400,
            "seed": 3,
            "as_of": "2025-06-30",
            "break_even": False,
        },
        headers=fm,
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["method"] == "stratified"
    assert res["paths"] == 400
    assert all(t["expected_loss_std_error"] >= 0 for t in res["tranches"])
    floating = next(t for t in res["tranches"] if t["name"] == "C")
    assert floating["duration_basis"] == "effective"


# ----------------------------------------------------------------- pricing as a durable job
# Above the path threshold a pricing is a job (202), polled at GET /v1/jobs/{id}; a retried
# job stores its pricing run once and never half.
@pytest.fixture
def small_threshold(monkeypatch) -> int:
    """The mechanism at a small size: pricing above 1,000 paths is a job in these tests."""
    monkeypatch.setattr(pricing_service, "SYNC_PRICING_PATHS", 1_000)
    return 1_000


def _pricings(session_factory, sid: str) -> list[SecuritizationPricing]:
    with session_factory() as s:
        return list(
            s.exec(
                select(SecuritizationPricing).where(SecuritizationPricing.securitization_id == sid)
            )
        )


def test_pricing_above_the_threshold_answers_202_and_the_job_gives_the_result(
    client, app, make_key, session_factory, small_threshold
) -> None:
    fm = make_key("fund_manager")
    sid = client.post("/v1/securitizations", json=deal_body(), headers=fm).json()["id"]
    below = client.post(
        f"/v1/securitizations/{sid}/price", json={"paths": 1_000, "seed": 4}, headers=fm
    )
    assert below.status_code == 200
    r = client.post(
        f"/v1/securitizations/{sid}/price", json={"paths": 2_000, "seed": 4}, headers=fm
    )
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert r.headers["Location"] == f"/v1/jobs/{accepted['id']}"
    assert accepted["kind"] == "securitization_pricing"
    assert accepted["status"] == "queued"
    get_jobs(app).wait(timeout=120)
    job = client.get(f"/v1/jobs/{accepted['id']}", headers=fm).json()
    assert job["status"] == "succeeded", job
    assert job["created_at"].endswith("Z")
    result = job["result"]
    assert accepted["ref"] == str(sid)
    assert result["securitization_id"] == sid
    assert result["paths"] == 2_000
    assert result["seed"] == 4
    assert [t["name"] for t in result["tranches"]] == ["A", "B", "C"]
    # the same figures as the stored run, listed with the others
    assert {p.id for p in _pricings(session_factory, sid)} == {below.json()["id"], result["id"]}
    history = client.get(f"/v1/securitizations/{sid}/prices", headers=fm).json()["items"]
    stored = next(h for h in history if h["id"] == result["id"])
    assert stored["tranches"] == result["tranches"]
    # another tenant sees no such job; the paths cap is the schema's
    assert (
        client.get(
            f"/v1/jobs/{accepted['id']}", headers=make_key("fund_manager", "other")
        ).status_code
        == 404
    )
    too_many = client.post(
        f"/v1/securitizations/{sid}/price", json={"paths": 1_000_001}, headers=fm
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "paths"


def test_an_unknown_securitization_queues_nothing(
    client, make_key, session_factory, small_threshold
) -> None:
    fm = make_key("fund_manager")
    r = client.post("/v1/securitizations/987654/price", json={"paths": 5_000}, headers=fm)
    assert r.status_code == 404
    with session_factory() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Job)).scalar_one() == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_workers_pricing_is_retried_and_stored_once(
    client, make_key, session_factory, small_threshold, monkeypatch
) -> None:
    """The worker died after the pricing committed, before the job was marked: the retry
    finds the stored run and answers with it; one run is stored, never a half one."""
    monkeypatch.setattr(job_worker, "after_claim_hook", None)
    fm = make_key("fund_manager")
    sid = client.post("/v1/securitizations", json=deal_body(), headers=fm).json()["id"]
    monkeypatch.setenv("JOBS_IN_PROCESS", "false")
    with session_factory() as session:
        from api.schemas.products import PriceRequest

        job = pricing_service.queue_pricing(
            session, sid, PriceRequest(paths=3_000, seed=9), tenant="tenant-a", actor="test"
        )
        job_id = int(job.id)
    # a first worker priced and committed the run, then died before recording the outcome
    with session_factory() as session:
        first = pricing_service.price_securitization(
            session,
            sid,
            PriceRequest(paths=3_000, seed=9),
            tenant="tenant-a",
            actor="test",
            job_id=job_id,
        )
    with session_factory() as session:
        row = session.get(Job, job_id)
        row.status, row.attempts = "running", 1
        row.worker = f"{socket.gethostname()}:{_dead_pid()}:deadbeef0000"
        session.add(row)
        session.commit()
    worker = job_worker.Worker(session_factory)
    assert worker.reap() == [job_id]
    worker.drain()
    with session_factory() as session:
        row = session.get(Job, job_id)
        assert row.status == "succeeded"
        assert row.attempts == 2
    assert [p.id for p in _pricings(session_factory, sid)] == [first.id]
    with session_factory() as session:
        assert json.loads(session.get(Job, job_id).result)["id"] == first.id


def test_pricing_discounts_at_the_currency_default_and_says_so(client, make_key) -> None:
    """No `discount_rate`: the currency's risk-free rate of the one default table (CNY
    1.5 %), reported with the run; a currency without a row asks for the rate by name."""
    fm = make_key("fund_manager")
    cny = client.post("/v1/securitizations", json=deal_body(), headers=fm).json()
    body = {"method": "lhp", "as_of": "2025-06-30"}
    r = client.post(f"/v1/securitizations/{cny['id']}/price", json=body, headers=fm)
    assert r.status_code == 200, r.text
    assert r.json()["discount_rate"] == 0.015
    given = client.post(
        f"/v1/securitizations/{cny['id']}/price",
        json={**body, "discount_rate": 0.03},
        headers=fm,
    )
    assert given.json()["discount_rate"] == 0.03
    history = client.get(f"/v1/securitizations/{cny['id']}/prices", headers=fm).json()
    assert sorted(p["discount_rate"] for p in history["items"]) == [0.015, 0.03]
    sgd = client.post("/v1/securitizations", json=deal_body(currency="SGD"), headers=fm)
    assert sgd.status_code == 201, sgd.text
    r = client.post(f"/v1/securitizations/{sgd.json()['id']}/price", json=body, headers=fm)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "discount_rate"


def test_inline_loans_give_their_tenor_as_tenor_months(client, make_key) -> None:
    """The loan vocabulary of every layer; ``term_months`` (the former name) still reads."""
    bank = make_key("bank")
    tranches = [
        {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.03},
        {"name": "E", "attach": 0.0, "detach": 0.2, "coupon": 0.06},
    ]

    def post(tenor_key: str) -> Any:
        loans = [
            {"loan_id": f"L{i}", "balance": 1e6, "annual_rate": 0.06, tenor_key: 24}
            for i in range(4)
        ]
        return client.post(
            "/v1/securitizations",
            json={"pool": {"loans": loans}, "tranches": tranches},
            headers=bank,
        )

    new, old = post("tenor_months"), post("term_months")
    assert new.status_code == 201, new.text
    assert old.status_code == 201, old.text
    assert new.json()["pool_balance"] == old.json()["pool_balance"]
    spec = client.get(f"/v1/securitizations/{new.json()['id']}", headers=bank).json()
    assert "term_months" not in json.dumps(spec)
    both = {"loan_id": "L", "balance": 1e6, "annual_rate": 0.06, "tenor_months": 24}
    both["term_months"] = 24
    r = client.post(
        "/v1/securitizations",
        json={"pool": {"loans": [both]}, "tranches": tranches},
        headers=bank,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "pool.loans.0.term_months"
