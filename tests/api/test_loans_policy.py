"""Loans a credit committee would sign: combined LTV over every live pledge, the policy
limit as a 422 unless a stated exception, liquidity PD, floored workout LGD, Basel
effective maturity, EL over the tenor and the tax gross-up, as the quote shows them."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from loan_consents import consent_all
from sqlmodel import select

from api.demo_steps.registry import comparable_records, cost_records, signal_rows
from api.schemas.registry import AssetRegister
from api.services import comparables as comparable_service
from api.services import registry
from api.services import signals as signal_service
from api.services import valuation as valuation_service
from credit.capital import irb_capital
from credit.pricing import effective_maturity
from models.audit import AuditEntry
from models.credit import Loan
from samples.data_assets import generate_samples

SAMPLES = generate_samples(13, n_assets=2)
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
        for aid in ids:
            valuation_service.create_valuation(
                session,
                aid,
                as_of=AS_OF,
                paths=1000,
                seed=3,
                tenant="owner",
                actor="t",
                publish=True,
            )
        consent_all(session, ids)  # the banks lend against the owner's assets
    return ids


def body(asset_ids: list[int], **kw) -> dict:
    return {
        "asset_ids": asset_ids,
        "currency": "CNY",
        "tenor_months": 36,
        "amortization": "annuity",
        "frequency_months": 1,
        "borrower": {"revenue_based": True},
        "as_of": AS_OF.isoformat(),
        **kw,
    }


def test_second_loan_sees_the_first_in_combined_ltv_and_lgd(client, make_key, assets) -> None:
    bank = make_key("bank", "bank-a")
    q1 = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank).json()
    p1 = round(q1["max_principal"] * 0.6, 2)
    assert q1["combined_ltv"] == pytest.approx(q1["ltv"])
    first = client.post("/v1/loans", json=body(assets[:1], principal=p1), headers=bank)
    assert first.status_code == 201, first.text
    p2 = round(q1["max_principal"] * 0.3, 2)
    q2 = client.post("/v1/loans/quote", json=body(assets[:1], principal=p2), headers=bank).json()
    assert q2["combined_ltv"] == pytest.approx((p1 + p2) / q2["collateral_value"], rel=1e-9)
    assert q2["ltv"] == pytest.approx(p2 / q2["collateral_value"], rel=1e-9)
    assert q2["lgd_unfloored"] >= q1["lgd_unfloored"] - 1e-12  # the first pledge ranks ahead
    assert any("ranks ahead" in w for w in q2["warnings"])
    # the policy room is what the first loan left
    assert q2["max_principal"] == pytest.approx(q1["max_principal"] - p1, abs=0.02)


def test_above_policy_is_a_422_unless_a_stated_exception(
    client, make_key, assets, session_factory
) -> None:
    bank = make_key("bank", "bank-a")
    # a valuation whose lending value lies above the advance-rate limit, so the policy binds
    lenient = {"liquidation_horizon_months": 0, "haircut_floor": 0.0, "lending_quantile": 0.5}
    v = client.post(
        f"/v1/assets/{assets[1]}/valuations",
        json={"as_of": AS_OF.isoformat(), "paths": 1000, "seed": 4, "assumptions": lenient},
        headers=make_key("registrar", "owner"),
    )
    assert v.status_code == 201, v.text
    q = client.post("/v1/loans/quote", json=body(assets[1:]), headers=bank).json()
    assert q["max_principal"] < q["lending_value"]
    assert q["policy_ltv"] == pytest.approx(q["max_principal"] / q["collateral_value"], rel=1e-9)
    over = round(min(q["max_principal"] * 1.2, q["lending_value"]), 2)
    assert over > q["max_principal"]
    r = client.post("/v1/loans/quote", json=body(assets[1:], principal=over), headers=bank)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "principal"
    assert "policy LTV" in r.json()["detail"]
    r = client.post("/v1/loans", json=body(assets[1:], principal=over), headers=bank)
    assert r.status_code == 422
    reason = "committee minute 42: guarantee from parent"
    r = client.post(
        "/v1/loans",
        json=body(assets[1:], principal=over, policy_exception={"reason": reason}),
        headers=bank,
    )
    assert r.status_code == 201, r.text
    loan = r.json()
    assert loan["policy_exception"] == reason
    assert loan["combined_ltv"] == pytest.approx(over / q["collateral_value"], rel=1e-9)
    with session_factory() as s:
        stored = s.get(Loan, loan["id"])
        assert stored.policy_exception == reason
        audit = s.exec(select(AuditEntry).where(AuditEntry.action == "loan.originate")).all()
        assert any(json.loads(a.payload).get("policy_exception") == reason for a in audit)
    short = client.post(
        "/v1/loans/quote", json=body(assets[1:], policy_exception={"reason": ""}), headers=bank
    )
    assert short.status_code == 422


def test_quote_shows_the_definitions_and_each_part(client, make_key, assets) -> None:
    bank = make_key("bank", "bank-a")
    q = client.post("/v1/loans/quote", json=body(assets[:1]), headers=bank).json()
    assert q["lgd"] >= q["lgd_floor"] == 0.15
    assert q["lgd"] == pytest.approx(max(q["lgd_floor"], q["lgd_unfloored"]))
    assert q["expected_loss"] > 0
    assert "liquidity default" in q["pd_definition"]
    assert "floor" in q["lgd_definition"]
    assert set(q["rate_basis"]) == {"funding", "expected_loss", "capital", "costs"}
    # effective maturity of the 36-month annuity from its own schedule
    sched = client.post(
        "/v1/loans",
        json=body(assets[:1], principal=round(q["max_principal"] * 0.5, 2)),
        headers=bank,
    ).json()
    rows = client.get(f"/v1/loans/{sched['id']}/schedule", headers=bank).json()
    t = np.array([(date.fromisoformat(r["date"]) - AS_OF).days / 365.0 for r in rows])
    cf = np.array([r["interest"] + r["principal"] for r in rows])
    m = effective_maturity(t, cf)
    assert sched["effective_maturity_years"] == pytest.approx(m, rel=1e-6)
    assert 1.4 < m < 1.7
    # (the schedule read back is rounded to the minor unit)
    assert sched["capital_k"] == pytest.approx(
        irb_capital(sched["pd"], sched["lgd_regulatory"], m), rel=1e-6
    )
    # capital part grossed up for tax: K (h / (1 - tax) - funding)
    rate = sched["rate"]
    assert rate["capital"] == pytest.approx(
        max(0.0, sched["capital_k"] * (0.12 / 0.75 - rate["funding"])), rel=1e-9
    )
    assert rate["total"] == pytest.approx(
        rate["funding"] + rate["expected_loss"] + rate["capital"] + rate["costs"]
    )


def test_borrower_liquidity_parameters_move_the_pd(client, make_key, assets) -> None:
    bank = make_key("bank", "bank-a")
    base = client.post(
        "/v1/loans/quote",
        json=body(assets[:1], principal=1_000_000.0, policy_exception={"reason": "test"}),
        headers=bank,
    ).json()
    thin = client.post(
        "/v1/loans/quote",
        json=body(
            assets[:1],
            principal=1_000_000.0,
            policy_exception={"reason": "test"},
            borrower={"revenue_based": True, "cash_buffer": 0.0, "cure_months": 1},
        ),
        headers=bank,
    ).json()
    assert thin["pd"] >= base["pd"]
    bad = client.post(
        "/v1/loans/quote",
        json=body(assets[:1], borrower={"revenue_based": True, "cure_months": 0}),
        headers=bank,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "borrower.cure_months"
