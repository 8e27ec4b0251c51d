"""The recursion scenario method against independent references: the 125-name pool's exact
tranche losses (../shared/reference/copula_pool_125.json), credit.portfolio's loss
distribution at every payment date, the copula Monte Carlo on a finite heterogeneous pool,
and the Vasicek large-pool limit as the pool grows."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from credit.portfolio import loss_distribution, tranche_expected_loss, vasicek_tranche_loss
from products.recursion import allocate_losses, cumulative_default_probability, recursion_loss_paths
from products.scenarios import scenario_chunks
from products.schedules import asset_schedules
from products.spec import deal_from_dict
from products.structure import Deal
from products.tranches import analyze, analyze_deal
from products.waterfall import run_waterfall
from valuation.market import default_curve

DATA = Path(__file__).resolve().parents[1] / "data" / "products"
POOL125 = json.loads((DATA / "copula_pool_125.json").read_text())
RHO125 = POOL125["inputs"]["beta"][0] ** 2
AS_OF = date(2025, 1, 15)


def loss_allocation_deal(loans: list[dict[str, Any]], tranches: list[list[float]]) -> Deal:
    """Zero-coupon bullet loans, zero-coupon notes, no fees: a pure loss-allocation
    structure, whose write-downs by month t are min((L_t - A)^+, D - A)."""
    trs = [
        {"name": f"T{k}", "attach": a, "detach": d, "coupon": 0.0}
        for k, (a, d) in enumerate(reversed(tranches))
    ]
    return deal_from_dict({"pool": {"loans": loans}, "tranches": trs})


def pool125_loans(terms: list[int] | None = None) -> list[dict[str, Any]]:
    inp = POOL125["inputs"]
    return [
        {
            "loan_id": f"N{i}",
            "balance": n,
            "annual_rate": 0.0,
            "tenor_months": 12 if terms is None else terms[i],
            "amortization": "bullet",
            "pd": p,
            "recovery_rate": r,
        }
        for i, (p, n, r) in enumerate(zip(inp["pd"], inp["notional"], inp["recovery"], strict=True))
    ]


def expected_writedowns(deal: Deal, chunks: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Cumulative tranche write-down by month (fraction of face): mean, standard error, paths."""
    faces = np.array([t.balance for t in deal.tranches])
    s1 = s2 = None
    n = 0
    for cf in chunks:
        wf = run_waterfall(deal, cf)
        cum = np.cumsum(wf.writedown, axis=2) / faces[None, :, None]
        m1 = np.einsum("s,skt->kt", cf.weights, cum)
        m2 = np.einsum("s,skt->kt", cf.weights, cum * cum)
        s1 = m1 if s1 is None else s1 + m1
        s2 = m2 if s2 is None else s2 + m2
        n += cf.n_scenarios
    assert s1 is not None
    assert s2 is not None
    return s1, np.sqrt(np.maximum(s2 - s1 * s1, 0.0) / n), n


def test_recursion_reproduces_the_125_name_reference_at_the_horizon() -> None:
    # Reference: exact recursion with an 800-node quadrature, copula_pool_125.json, 1e-9.
    deal = loss_allocation_deal(pool125_loans(), POOL125["tranches"])
    res = analyze_deal(
        deal, market=default_curve(AS_OF, "CNY", 0.02), method="recursion", correlation=RHO125
    )
    refs = list(reversed(POOL125["tranche_expected_loss_fraction"]))
    got = [t.expected_loss for t in res.tranches]
    np.testing.assert_allclose(got, refs, rtol=0, atol=1e-9)
    assert res.pool_expected_loss == pytest.approx(
        POOL125["expected_loss_fraction_of_pool"], abs=1e-12
    )


def test_loss_paths_carry_the_loss_distribution_of_every_payment_date() -> None:
    # Independent of the bucketing: at each month t, credit.portfolio.loss_distribution with
    # every name's PD by t gives the exact pool loss distribution; the recursion's paths must
    # have the same mean, and the same tranche loss at the horizon (the buckets split there).
    terms = [6 + 6 * (i % 4) for i in range(125)]  # 6, 12, 18, 24 months
    deal = loss_allocation_deal(pool125_loans(terms), POOL125["tranches"])
    sched = asset_schedules(deal.pool)
    b0 = float(sched.balance[:, 0].sum())
    kinks = sorted({x * b0 for t in deal.tranches for x in (t.attach, t.detach)})
    rec = recursion_loss_paths(sched, RHO125, kinks=kinks)
    cum = cumulative_default_probability(sched)
    lgd = 1.0 - sched.recovery_rate
    assert np.all(np.diff(rec.loss, axis=1) >= 0.0)
    assert rec.weights.sum() == pytest.approx(1.0)
    for t in (1, 5, 6, 11, 17, 24):
        losses, probs = loss_distribution(cum[:, t], sched.balance[:, 0], lgd, RHO125)
        assert rec.weights @ rec.loss[:, t] == pytest.approx(losses @ probs, rel=1e-9, abs=1e-12)
    # the expected tranche loss curve: exact at every payment date (buckets are split where
    # any month's loss crosses an attachment point)
    for t in range(1, 25):
        losses, probs = loss_distribution(cum[:, t], sched.balance[:, 0], lgd, RHO125)
        for tr in deal.tranches:
            a, d = tr.attach * b0, tr.detach * b0
            exact = tranche_expected_loss(losses, probs, a, d)
            paths = float(rec.weights @ np.clip(rec.loss[:, t] - a, 0.0, d - a)) / (d - a)
            assert paths == pytest.approx(exact, abs=1e-9), (t, tr.name)


def test_allocation_realises_each_loss_path_exactly() -> None:
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e6 * (1 + i % 5),
            "annual_rate": 0.06,
            "tenor_months": 12 + 6 * (i % 4),
            "amortization": ("annuity", "linear", "bullet")[i % 3],
            "pd": 0.01 + 0.01 * (i % 7),
            "recovery_rate": 0.2 + 0.1 * (i % 3),
        }
        for i in range(30)
    ]
    deal = deal_from_dict(
        {
            "pool": {"loans": loans, "prepayment_rate": 0.05},
            "tranches": [
                {"name": "A", "attach": 0.1, "detach": 1.0, "coupon": 0.03},
                {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.08},
            ],
        }
    )
    sched = asset_schedules(deal.pool)
    rec = recursion_loss_paths(sched, 0.3, n_nodes=16, n_buckets=8)
    idx = np.arange(rec.n_scenarios)
    surv = allocate_losses(sched, rec, idx)
    assert np.all(surv >= 0.0)
    assert np.all(surv <= 1.0)
    assert np.all(np.diff(surv, axis=2) <= 1e-15)
    drop = surv[:, :, :-1] - surv[:, :, 1:]
    net = np.cumsum(
        np.einsum("sit,it->st", drop, (1.0 - sched.recovery_rate)[:, None] * sched.balance[:, :-1]),
        axis=1,
    )
    # every path is realised exactly unless it asks for about as much as the whole pool can
    # lose (all names defaulting early): the extreme tail, here 4e-7 of probability
    capacity = float((1.0 - sched.recovery_rate) @ sched.balance[:, 0])
    inside = rec.loss[:, -1] <= 0.8 * capacity
    np.testing.assert_allclose(net[inside], rec.loss[inside, 1:], rtol=1e-12, atol=1e-9 * capacity)
    assert rec.weights[~inside].sum() < 1e-6
    assert float(rec.weights @ np.abs(net - rec.loss[:, 1:]).max(axis=1)) < 1e-9 * capacity


def test_recursion_and_monte_carlo_agree_on_a_finite_heterogeneous_pool() -> None:
    # The 125 heterogeneous names with staggered maturities, pure loss allocation: the
    # expected cumulative write-down of every class at every month, by recursion and by the
    # copula Monte Carlo (20,000 paths), within four standard errors; prices likewise.
    terms = [6 + 6 * (i % 4) for i in range(125)]
    deal = loss_allocation_deal(pool125_loans(terms), POOL125["tranches"])
    rec_mean, _, _ = expected_writedowns(
        deal, scenario_chunks(deal, "recursion", correlation=RHO125)
    )
    mc_chunks = scenario_chunks(deal, "mc", correlation=RHO125, n_paths=20_000, seed=20251125)
    mc_mean, mc_se, n = expected_writedowns(deal, mc_chunks)
    assert n == 20_000
    # below 1e-4 of the face a class loses on a handful of paths: too rare for the sample's
    # standard error to mean anything (the exact per-date test above covers those)
    seen = mc_mean >= 1e-4
    z = np.abs(rec_mean - mc_mean)[seen] / mc_se[seen]
    assert seen.sum() > 60, z.max()
    assert z.max() <= 4.0, z.max()
    assert np.all(np.abs(rec_mean - mc_mean)[~seen] <= 2e-4)
    market = default_curve(AS_OF, "CNY", 0.03)
    rec = analyze_deal(deal, market=market, method="recursion", correlation=RHO125)
    mc = analyze_deal(
        deal, market=market, method="mc", correlation=RHO125, n_paths=20_000, seed=20251125
    )
    for r, m in zip(rec.tranches, mc.tranches, strict=True):
        assert abs(r.price - m.price) <= 4 * m.price_std_error + 1e-9, (r.name, r.price, m.price)


def homogeneous_deal(n_loans: int, pd: float = 0.04, recovery: float = 0.4) -> Deal:
    loans = [
        {
            "loan_id": f"H{i}",
            "balance": 1.0,
            "annual_rate": 0.0,
            "tenor_months": 12,
            "amortization": "bullet",
            "pd": pd,
            "recovery_rate": recovery,
        }
        for i in range(n_loans)
    ]
    return loss_allocation_deal(loans, [[0.0, 0.03], [0.03, 0.1], [0.1, 1.0]])


def test_recursion_tends_to_the_large_pool_limit() -> None:
    # Reference: the Vasicek closed form (credit.portfolio.vasicek_tranche_loss). The
    # finite-pool excess over the limit shrinks as the pool grows (granularity ~ 1/n).
    rho = 0.2
    errors = []
    for n in (20, 80, 320):
        deal = homogeneous_deal(n)
        res = analyze(
            deal,
            scenario_chunks(deal, "recursion", correlation=rho),
            market=default_curve(AS_OF, "CNY", 0.02),
        )
        limit = [vasicek_tranche_loss(0.04, rho, 0.4, t.attach, t.detach) for t in deal.tranches]
        errors.append(
            max(abs(t.expected_loss - x) for t, x in zip(res.tranches, limit, strict=True))
        )
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < errors[0] / 8  # 16 times the names (measured: 0.112 -> 0.0093)
    assert not math.isnan(errors[2])
