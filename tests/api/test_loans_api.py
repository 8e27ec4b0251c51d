"""Loan endpoints: quote, origination (idempotency, pledge capacity), schedule, risk, revaluation,
portfolio risk, tenant isolation, bad input with nothing written."""

from __future__ import annotations

import threading

import pytest
from loan_consents import consent_all
from sqlmodel import func, select

from api.demo_steps.registry import comparable_records, cost_records, signal_rows
from api.schemas.registry import AssetRegister
from api.services import comparables as comparable_service
from api.services import loan_book as loan_book_service
from api.services import origination as origination_service
from api.services import registry
from api.services import signals as signal_service
from api.services import valuation as valuation_service
from credit.capital import irb_capital
from models.credit import Loan, LoanEvent, Pledge
from samples.data_assets import generate_samples

SAMPLES = generate_samples(11, n_assets=3)
AS_OF = SAMPLES.as_of


@pytest.fixture
def assets(session_factory) -> list[int]:
    ids = []
    with session_factory() as session:
        for sample in SAMPLES.assets:
            a = registry.register_asset(
                session, AssetRegister.model_validate(sample.profile), tenant="owner", actor="t"
            )
            signal_service.import_signals(
                session, a.id, signal_rows(sample.signals), tenant="owner", actor="t"
            )
            registry.add_costs(session, a.id, cost_records(sample.costs), tenant="owner", actor="t")
            ids.append(a.id)
        comparable_service.add_comparables(
            session, comparable_records(SAMPLES.comparables), tenant="owner", actor="t"
        )
        for aid in ids:  # loans rely on a stored valuation of each asset
            valuation_service.create_valuation(
                session,
                aid,
                as_of=AS_OF,
                paths=500,
                seed=3,
                tenant="owner",
                actor="t",
                publish=True,
            )
        consent_all(session, ids)  # the banks lend against the owner's assets
    return ids


@pytest.fixture
def bank(make_key) -> dict[str, str]:
    return make_key("bank", "bank-a")


def body(asset_ids: list[int], **kw) -> dict:
    out = {
        "asset_ids": asset_ids,
        "currency": "CNY",
        "tenor_months": 12,
        "amortization": "annuity",
        "frequency_months": 1,
        "day_count": "ACT/365F",
        "calendar": "China",
        "borrower": {"rating": "BBB"},
        "as_of": AS_OF.isoformat(),
    }
    out.update(kw)
    return out


def counts(session_factory) -> tuple[int, int, int]:
    with session_factory() as s:
        return (
            s.exec(select(func.count()).select_from(Loan)).one(),
            s.exec(select(func.count()).select_from(Pledge)).one(),
            s.exec(select(func.count()).select_from(LoanEvent)).one(),
        )


def test_quote_has_every_figure(client, assets, bank) -> None:
    r = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank)
    assert r.status_code == 200, r.text
    q = r.json()
    for k in (
        "lending_value",
        "haircut",
        "max_principal",
        "pd",
        "lgd",
        "ead",
        "expected_loss",
        "capital",
        "rwa",
    ):
        assert k in q
    rate = q["rate"]
    assert rate["total"] == pytest.approx(
        rate["funding"] + rate["expected_loss"] + rate["capital"] + rate["costs"]
    )
    assert 0.3 <= q["haircut"] < 1.0
    assert q["max_principal"] <= min(0.6 * q["collateral_value"], q["lending_value"]) + 1e-6
    assert q["max_principal"] == pytest.approx(
        min(q["assets"][0]["advance_rate"] * q["collateral_value"], q["lending_value"])
    )
    assert q["principal"] == pytest.approx(q["max_principal"])
    assert q["expected_loss"] == pytest.approx(q["pd"] * q["lgd"] * q["ead"])
    assert q["rwa"] == pytest.approx(12.5 * q["capital"])
    assert q["lgd_regulatory"] == 0.40
    assert q["pd"] == pytest.approx(0.0020)
    # capital: the IRB formula with the regulatory LGD and M = tenor (floored at 1 year)
    assert q["capital"] == pytest.approx(irb_capital(0.0020, 0.40, 1.0) * q["ead"], rel=1e-9)
    assert q["lending_value"] == pytest.approx(q["collateral_value"] * (1 - q["haircut"]), rel=1e-9)


def test_quote_with_a_given_pd(client, assets, bank) -> None:
    q = client.post(
        "/v1/loans/quote", json=body(assets[:1], borrower={"pd": 0.013}), headers=bank
    ).json()
    assert q["pd"] == 0.013
    assert q["pd_source"] == "given"
    both = client.post(
        "/v1/loans/quote", json=body(assets[:1], borrower={"pd": 0.01, "rating": "A"}), headers=bank
    )
    assert both.status_code == 422


def test_revenue_based_quote(client, assets, bank) -> None:
    b = body(assets[:2], borrower={"revenue_based": True, "revenue_share": 0.5})
    r = client.post("/v1/loans/quote", json=b, headers=bank)
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["pd_source"] == "revenue"
    assert 0.0005 <= q["pd"] < 1


def test_originate_read_schedule_risk_and_idempotency(
    client, assets, bank, make_key, session_factory
) -> None:
    q = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank).json()
    principal = round(q["max_principal"] * 0.5, 2)
    b = body(assets[:1], principal=principal, start_date=AS_OF.isoformat())
    r = client.post("/v1/loans", json=b, headers={**bank, "Idempotency-Key": "k-1"})
    assert r.status_code == 201, r.text
    loan = r.json()
    again = client.post("/v1/loans", json=b, headers={**bank, "Idempotency-Key": "k-1"})
    assert again.status_code == 201
    assert again.json()["id"] == loan["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert counts(session_factory)[0] == 1
    # the same request with the currency in small letters is the same request
    lower = client.post(
        "/v1/loans",
        json={**b, "currency": b["currency"].lower()},
        headers={**bank, "Idempotency-Key": "k-1"},
    )
    assert lower.status_code == 201
    assert lower.json()["id"] == loan["id"]
    other = client.post(
        "/v1/loans",
        json={**b, "principal": principal / 2},
        headers={**bank, "Idempotency-Key": "k-1"},
    )
    assert other.status_code == 409
    sched = client.get(f"/v1/loans/{loan['id']}/schedule", headers=bank).json()
    assert len(sched) == 12
    assert sched[-1]["balance"] == 0.0
    # booked amounts: rounded to the fen, principal payments add up to the principal exactly
    assert all(
        round(row[k], 2) == row[k] for row in sched for k in ("interest", "principal", "balance")
    )
    assert round(sum(row["principal"] for row in sched), 2) == principal
    model = service_schedule(loan["id"], client)
    assert (
        max(abs(a["interest"] - b["interest"]) for a, b in zip(sched, model, strict=True))
        <= 0.005 + 1e-9
    )
    risk = client.get(f"/v1/loans/{loan['id']}/risk", headers=bank).json()
    assert risk["rwa"] == pytest.approx(12.5 * risk["capital"], rel=1e-6)
    assert [e["kind"] for e in risk["events"]] == ["origination"]
    # another tenant sees nothing
    stranger = make_key("bank", "bank-b")
    for path in ("", "/schedule", "/risk", "/events"):
        r = client.get(f"/v1/loans/{loan['id']}{path}", headers=stranger)
        assert r.status_code == 404, path
    assert (
        client.post(f"/v1/loans/{loan['id']}/revalue", json={}, headers=stranger).status_code == 404
    )
    assert (
        client.get(f"/v1/loans/{loan['id']}", headers=make_key("risk", "bank-a")).status_code == 200
    )
    assert client.get("/v1/loans", headers=stranger).json()["items"] == []
    assert (
        client.post(
            "/v1/loans/quote", json=b, headers=make_key("fund_manager", "bank-a")
        ).status_code
        == 403
    )
    assert client.get(f"/v1/loans/{loan['id']}").status_code == 401


def test_pledge_capacity_is_never_exceeded(client, assets, bank, session_factory) -> None:
    q = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank).json()
    lv = q["lending_value"]
    # up to the lending value: booked; above the policy maximum only as a stated policy
    # exception, which the loan stores
    p1 = round(0.95 * lv, 2)
    exception = {"reason": "credit committee approval 2026-01"}
    first = client.post(
        "/v1/loans", json=body(assets[:1], principal=p1, policy_exception=exception), headers=bank
    )
    assert first.status_code == 201, first.text
    assert any("policy exception" in w for w in first.json()["warnings"]) == (
        p1 > q["max_principal"]
    )
    assert first.json()["policy_exception"] == exception["reason"]
    before = counts(session_factory)
    # the same asset again: 0.95 + 0.1 of its lending value -> 409, nothing written
    r = client.post(
        "/v1/loans",
        json=body(assets[:1], principal=round(0.1 * lv, 2), policy_exception=exception),
        headers=bank,
    )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "capacity" in r.json()["detail"]
    assert counts(session_factory) == before
    q2 = client.post(
        "/v1/loans/quote", json=body(assets[:1], principal=1000.0), headers=bank
    ).json()
    assert q2["assets"][0]["pledged"] == pytest.approx(p1, abs=0.01)
    assert q2["assets"][0]["available_capacity"] == pytest.approx(lv - p1, abs=0.01)
    # what is left still fits
    rest = client.post(
        "/v1/loans",
        json=body(assets[:1], principal=round(lv - p1, 2) - 0.02, policy_exception=exception),
        headers=bank,
    )
    assert rest.status_code == 201, rest.text
    with session_factory() as s:
        total = sum(
            float(p.amount)
            for p in s.exec(select(Pledge).where(Pledge.asset_id == assets[0])).all()
        )
    assert total <= lv + 0.01


def test_revaluation_raises_and_stores_events(client, assets, bank) -> None:
    q = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank).json()
    loan = client.post(
        "/v1/loans",
        json=body(assets[:1], principal=round(q["max_principal"] * 0.9, 2)),
        headers=bank,
    ).json()
    principal = loan["principal"]
    cases = [
        (principal / 0.5, []),
        (principal / 0.65, ["warning"]),
        (principal / 0.75, ["margin_call"]),
        (principal / 0.9, ["liquidation"]),
    ]
    for value, kinds in cases:
        r = client.post(
            f"/v1/loans/{loan['id']}/revalue",
            json={"as_of": AS_OF.isoformat(), "collateral_value": value},
            headers=bank,
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["ltv"] == pytest.approx(principal / value, rel=1e-6)
        assert [e["kind"] for e in out["events"]] == kinds
    margin = client.post(
        f"/v1/loans/{loan['id']}/revalue",
        json={"as_of": AS_OF.isoformat(), "collateral_value": principal / 0.75},
        headers=bank,
    ).json()
    assert margin["events"][0]["cure_amount"] == pytest.approx(
        principal - 0.6 * principal / 0.75, abs=0.01
    )
    events = client.get(f"/v1/loans/{loan['id']}/events", headers=bank).json()["items"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("revaluation") == 5
    assert kinds.count("warning") == 1
    assert kinds.count("liquidation") == 1
    # a full revaluation of the asset (no override) gives the loan's LTV back near origination
    full = client.post(
        f"/v1/loans/{loan['id']}/revalue", json={"as_of": AS_OF.isoformat()}, headers=bank
    ).json()
    assert full["ltv"] == pytest.approx(loan["principal"] / loan["collateral_value"], rel=1e-6)
    bad = client.post(
        f"/v1/loans/{loan['id']}/revalue",
        json={
            "collateral_value": 1.0,
            "thresholds": {"warning": 0.9, "margin_call": 0.7, "liquidation": 0.95},
        },
        headers=bank,
    )
    assert bad.status_code == 422
    assert (
        len(client.get(f"/v1/loans/{loan['id']}/events", headers=bank).json()["items"])
        == len(events) + 1
    )
    page = client.get(f"/v1/loans/{loan['id']}/events", params={"limit": 2}, headers=bank).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]


def test_portfolio_risk_three_methods(client, assets, bank) -> None:
    empty = client.get("/v1/portfolio/risk", headers=bank).json()
    assert empty["n_loans"] == 0
    for i, aid in enumerate(assets):
        q = client.post("/v1/loans/quote", json=body([aid]), headers=bank).json()
        b = body(
            [aid],
            principal=round(q["max_principal"] * 0.5, 2),
            borrower={"rating": ["BB", "B", "BBB"][i]},
        )
        assert client.post("/v1/loans", json=b, headers=bank).status_code == 201
    out = {}
    # the large-pool limit is refused for a book of three loans
    lhp = client.get("/v1/portfolio/risk", params={"method": "lhp"}, headers=bank)
    assert lhp.status_code == 422
    assert lhp.json()["errors"][0]["field"] == "method"
    assert "granular" in lhp.json()["detail"]
    for method in ("recursion", "mc"):
        r = client.get(
            "/v1/portfolio/risk",
            params={"confidence": 0.99, "method": method, "paths": 20000},
            headers=bank,
        )
        assert r.status_code == 200, r.text
        out[method] = r.json()
        assert out[method]["es"] >= out[method]["var"] - 1e-6
        assert out[method]["economic_capital"] == pytest.approx(
            out[method]["var"] - out[method]["expected_loss"]
        )
    rec = out["recursion"]
    assert rec["n_loans"] == 3
    assert sum(c["var"] for c in rec["contributions"]) == pytest.approx(rec["var"], rel=1e-6)
    assert sum(c["expected_loss"] for c in rec["contributions"]) == pytest.approx(
        rec["expected_loss"], rel=1e-3
    )
    assert out["mc"]["expected_loss"] == pytest.approx(rec["expected_loss"], rel=0.2)
    bad = client.get("/v1/portfolio/risk", params={"method": "magic"}, headers=bank)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"principal": -5.0}, "principal"),
        ({"principal": 0}, "principal"),
        ({"day_count": "ACT/364"}, "day_count"),
        ({"calendar": "Atlantis"}, "calendar"),
        ({"tenor_months": 13, "frequency_months": 3}, "tenor_months"),
        ({"amortization": "balloon"}, "amortization"),
        ({"currency": "usd"}, "currency"),
        ({"borrower": {"rating": "ZZZ"}}, "rating"),
        ({"borrower": {}}, "borrower"),
        ({"asset_ids": []}, "asset_ids"),
        ({"asset_ids": [2**70]}, "asset_ids.0"),
        ({"as_of": "9999-12-31"}, "as_of"),
        ({"principal": 1e300}, "principal"),
        ({"principal": "5000"}, "principal"),
        ({"tenor_months": True}, "tenor_months"),
        ({"frequency_months": True}, "frequency_months"),
        ({"paths": 100}, "paths"),  # collateral figures come from the record, not the request
        ({"seed": 14}, "seed"),
        ({"valuation_id": 999_999}, "valuation_id"),
        ({"valuation_id": 2**63}, "valuation_id"),
        ({"borrower": {"revenue_based": "yes"}}, "borrower.revenue_based"),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    client, assets, bank, session_factory, change, field
) -> None:
    before = counts(session_factory)
    b = body(assets[:1], principal=1000.0) | change
    r = client.post("/v1/loans", json=b, headers={**bank, "Idempotency-Key": f"bad-{field}"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(field in (e["field"] or "") for e in problem["errors"]), problem
    assert counts(session_factory) == before


def test_unknown_or_unpledgeable_asset(client, assets, bank, session_factory) -> None:
    r = client.post("/v1/loans", json=body([999_999], principal=1000.0), headers=bank)
    assert r.status_code == 404
    with session_factory() as s:
        from models.registry import DataAsset

        a = s.get(DataAsset, assets[1])
        a.status = "suspended"
        s.add(a)
        s.commit()
    r = client.post("/v1/loans", json=body([assets[1]], principal=1000.0), headers=bank)
    assert r.status_code == 409
    # an asset without any revenue history cannot be valued over a liquidation horizon
    with session_factory() as s:
        bare = registry.register_asset(
            s,
            AssetRegister.model_validate(
                SAMPLES.assets[2].profile | {"fingerprint_sha256": "ab" * 32}
            ),
            tenant="owner",
            actor="t",
        )
        bare_id = bare.id
    r = client.post("/v1/loans", json=body([bare_id], principal=1000.0), headers=bank)
    assert 400 <= r.status_code < 500, r.text
    assert r.status_code != 404, r.text
    assert counts(session_factory) == (0, 0, 0)


@pytest.mark.parametrize(("share", "expected"), [(0.7, [201, 409]), (0.4, [201, 201])])
def test_concurrent_originations_against_one_asset(
    client, assets, make_key, session_factory, share, expected, monkeypatch
) -> None:
    # PostgreSQL (TEST_DATABASE_URL): SELECT ... FOR UPDATE; SQLite: the database write lock
    bank = make_key("bank", "bank-a")
    q = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank).json()
    # 0.7: each loan alone fits, together they exceed the asset's lending value -> one 409;
    # 0.4: both fit -> the lock serialises them and both are booked
    b = body(assets[:1], principal=round(q["lending_value"] * share, 2))
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    # both requests reach the lock together, after their valuations: the race is real
    at_lock = threading.Barrier(2, timeout=30)
    real_lock = origination_service.lock_assets_for_pledge

    def lock_together(session, asset_ids):  # type: ignore[no-untyped-def]
        at_lock.wait()
        return real_lock(session, asset_ids)

    monkeypatch.setattr(origination_service, "lock_assets_for_pledge", lock_together)

    def go() -> None:
        barrier.wait()
        statuses.append(client.post("/v1/loans", json=b, headers=bank).status_code)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == expected
    booked = expected.count(201)
    assert counts(session_factory)[:2] == (booked, booked)
    with session_factory() as s:
        total = sum(
            float(p.amount)
            for p in s.exec(select(Pledge).where(Pledge.asset_id == assets[0])).all()
        )
    assert total <= q["lending_value"] + 0.01


def test_list_loans_paginates(client, assets, bank, make_key) -> None:
    for i in range(3):
        q = client.post("/v1/loans/quote", json=body([assets[i]]), headers=bank).json()
        assert (
            client.post(
                "/v1/loans",
                json=body([assets[i]], principal=round(q["max_principal"] * 0.3, 2)),
                headers=bank,
            ).status_code
            == 201
        )
    first = client.get("/v1/loans", params={"limit": 2}, headers=bank).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = client.get(
        "/v1/loans", params={"limit": 2, "cursor": first["next_cursor"]}, headers=bank
    ).json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [x["id"] for x in first["items"] + second["items"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert (
        client.get("/v1/loans", params={"cursor": "forged.cursor"}, headers=bank).status_code == 422
    )


def service_schedule(loan_id: int, client) -> list[dict]:
    """The unrounded model schedule of a stored loan."""
    from models.credit import Loan as LoanRow

    with client.app.state.session_factory() as session:
        return loan_book_service.schedule_rows(
            loan_book_service.loan_schedule(session.get(LoanRow, loan_id))
        )


def test_bulk_revaluation_is_a_job_that_stores_every_loan_or_none(
    client, app, assets, bank, session_factory, monkeypatch
) -> None:
    """POST /v1/loans/revaluations: 202 and a job revaluing each live loan of the tenant in
    one transaction; a failure part way leaves no loan revalued."""
    from api.job_queue import get_jobs

    q = client.post("/v1/loans/quote", json=body(assets[:2]), headers=bank).json()
    ids = [
        client.post(
            "/v1/loans",
            json=body(assets[:2], principal=round(q["max_principal"] * f, 2)),
            headers=bank,
        ).json()["id"]
        for f in (0.3, 0.2)
    ]
    _, _, events_before = counts(session_factory)
    r = client.post("/v1/loans/revaluations", json={"as_of": AS_OF.isoformat()}, headers=bank)
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "loan_revaluation", r.text
    get_jobs(app).wait(timeout=120)
    job = client.get(r.headers["Location"], headers=bank).json()
    assert job["status"] == "succeeded", job
    assert job["result"]["loans"] == 2
    assert [x["loan_id"] for x in job["result"]["revalued"]] == ids
    for x in job["result"]["revalued"]:
        single = client.get(f"/v1/loans/{x['loan_id']}/risk", headers=bank).json()
        assert single["ltv"] == pytest.approx(x["ltv"])
    assert counts(session_factory)[2] == events_before + 2  # one revaluation event per loan
    # a failure on the second loan: the first one's revaluation is not kept either
    real = loan_book_service.revalue_loan
    calls = {"n": 0}

    def flaky(session, loan, body_, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated failure on the second loan")
        return real(session, loan, body_, **kw)

    monkeypatch.setattr(loan_book_service, "revalue_loan", flaky)
    r = client.post("/v1/loans/revaluations", json={}, headers=bank)
    get_jobs(app).wait(timeout=120)
    job = client.get(r.headers["Location"], headers=bank).json()
    assert job["status"] == "failed"
    assert "second loan" in job["error"]
    assert counts(session_factory)[2] == events_before + 2
    one = client.post("/v1/loans/revaluations", json={"collateral_value": 5.0}, headers=bank)
    assert one.status_code == 422
    assert one.json()["errors"][0]["field"] == "collateral_value"
