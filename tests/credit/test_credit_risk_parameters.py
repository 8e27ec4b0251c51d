"""PD (master scale, revenue paths), LGD (economic with wrong-way risk, regulatory, downturn), pricing, monitoring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.lgd import downturn_lgd, economic_lgd, expected_loss, regulatory_lgd
from credit.monitoring import MonitoringThresholds, classify_ltv, revalue
from credit.pd import MASTER_SCALE, annualise_pd, pd_from_rating, pd_from_revenue, rating_from_pd
from credit.pricing import funding_rate_from_discount_factor, price_loan
from valuation.errors import ConventionError


def test_master_scale_monotone_and_round_trip() -> None:
    pds = list(MASTER_SCALE.values())
    assert pds == sorted(pds)
    for grade, pd in MASTER_SCALE.items():
        assert rating_from_pd(pd) == grade
        assert pd_from_rating(grade) == pd
    assert pd_from_rating("bbb+") == MASTER_SCALE["BBB"]
    with pytest.raises(ConventionError) as info:
        pd_from_rating("ZZ")
    assert info.value.field == "rating"


def test_pd_from_revenue_counts_dscr_breaches() -> None:
    # four paths, 6 months, debt service 100 a month
    rev = np.array(
        [
            [150, 150, 150, 150, 150, 150],  # never below
            [150, 90, 150, 150, 150, 150],  # breach in month 1
            [150, 150, 150, 150, 150, 99.9],  # breach in month 5
            [100, 100, 100, 100, 100, 100],  # DSCR exactly 1: no breach
        ],
        dtype=float,
    )
    res = pd_from_revenue(rev, 100.0)
    assert res.pd == pytest.approx(0.5)
    assert res.defaulted.tolist() == [False, True, True, False]
    assert res.default_month.tolist() == [-1, 1, 5, -1]
    assert pd_from_revenue(rev, 100.0, horizon_months=3).pd == pytest.approx(0.25)
    # a quarterly window smooths the single bad month of path 1 (150 + 90 + 150 >= 300)
    assert pd_from_revenue(rev, 100.0, window_months=3).defaulted.tolist() == [
        False,
        False,
        False,
        False,
    ]
    # only months with debt service count
    ds = np.array([100, 0, 100, 100, 100, 100.0])
    assert pd_from_revenue(rev, ds).defaulted.tolist() == [False, False, True, False]


def test_pd_from_revenue_lognormal_against_closed_form() -> None:
    # one month, revenue lognormal: P(R < D) = Phi((ln D - mu) / sigma)
    from scipy.stats import norm

    rng = np.random.default_rng(3)
    mu, sigma, d = np.log(120.0), 0.25, 100.0
    rev = np.exp(rng.normal(mu, sigma, (200_000, 1)))
    res = pd_from_revenue(rev, d)
    assert abs(res.pd - norm.cdf((np.log(d) - mu) / sigma)) < 4 * res.std_error


@given(scale=st.floats(0.5, 1.5))
def test_pd_falls_as_revenue_rises(scale: float) -> None:
    rng = np.random.default_rng(1)
    rev = np.exp(rng.normal(np.log(110.0), 0.3, (2000, 12)))
    lo = pd_from_revenue(rev * scale, 100.0).pd
    hi = pd_from_revenue(rev * scale * 1.2, 100.0).pd
    assert hi <= lo


def test_economic_lgd_shows_wrong_way_risk() -> None:
    rng = np.random.default_rng(2)
    n = 100_000
    z = rng.standard_normal(n)
    collateral = 100.0 * np.exp(0.4 * z - 0.08)  # value moves with the factor
    defaulted = z < -1.5  # default in bad states
    res = economic_lgd(80.0, collateral, defaulted, liquidation_cost=0.1)
    indep = economic_lgd(80.0, collateral, rng.permutation(defaulted), liquidation_cost=0.1)
    assert res.lgd > res.lgd_all_paths
    assert res.lgd > indep.lgd + 0.05
    # the formula by hand on the default paths
    loss = np.maximum(0, 80.0 - 0.9 * collateral[defaulted])
    assert res.lgd == pytest.approx(loss.sum() / (80.0 * defaulted.sum()), rel=1e-12)
    assert economic_lgd(80.0, collateral, defaulted, downturn=True).lgd == pytest.approx(
        0.08 + 0.92 * res.lgd
    )


def test_regulatory_and_downturn_lgd() -> None:
    assert regulatory_lgd() == 0.40
    assert regulatory_lgd(financial_institution=True) == 0.45
    assert regulatory_lgd(override=0.3) == 0.3
    assert downturn_lgd(0.4) == pytest.approx(0.448)
    assert downturn_lgd(0.95, add_on=0.1) == 1.0


@given(pd=st.floats(0.0, 0.5), lgd=st.floats(0.0, 1.0), bump=st.floats(0.001, 0.3))
def test_el_rises_with_pd_and_lgd(pd: float, lgd: float, bump: float) -> None:
    ead = 1e6
    assert expected_loss(min(pd + bump, 1.0), lgd, ead) >= expected_loss(pd, lgd, ead)
    assert expected_loss(pd, min(lgd + bump, 1.0), ead) >= expected_loss(pd, lgd, ead)
    assert expected_loss(pd, lgd, ead) == pytest.approx(pd * lgd * ead)


def test_pricing_parts_add_up() -> None:
    p = price_loan(0.02, 0.4, 0.09, 0.025, hurdle_rate=0.12, cost_rate=0.006)
    assert p.expected_loss == pytest.approx(0.008)
    assert p.capital == pytest.approx(0.09 * (0.12 - 0.025))
    assert p.total == pytest.approx(p.funding + p.expected_loss + p.capital + p.costs)
    assert funding_rate_from_discount_factor(1 / 1.03**2, 2.0) == pytest.approx(0.03)
    with pytest.raises(ConventionError) as info:
        price_loan(1.5, 0.4, 0.1, 0.02)
    assert info.value.field == "pd"


def test_monitoring_events_at_thresholds() -> None:
    t = MonitoringThresholds(warning=0.6, margin_call=0.7, liquidation=0.85)
    assert revalue(50.0, 100.0, t).events == ()
    w = revalue(60.0, 100.0, t).events[0]
    assert w.kind == "warning"
    assert w.cure_amount == 0.0
    m = revalue(75.0, 100.0, t).events[0]
    assert m.kind == "margin_call"
    assert m.cure_amount == pytest.approx(15.0)
    liq = revalue(90.0, 100.0, t).events[0]
    assert liq.kind == "liquidation"
    assert revalue(10.0, 0.0, t).events[0].kind == "liquidation"
    assert classify_ltv(np.array([0.1, 0.65, 0.7, 2.0]), t).tolist() == [0, 1, 2, 3]
    with pytest.raises(ConventionError) as info:
        MonitoringThresholds(warning=0.8, margin_call=0.7, liquidation=0.9)
    assert info.value.field == "thresholds"


def test_annualise_pd() -> None:
    assert annualise_pd(0.05, 12) == pytest.approx(0.05)
    assert annualise_pd(0.0975, 24) == pytest.approx(1 - (1 - 0.0975) ** 0.5)
