"""IRB capital: Basel II Annex 5 table, formula properties and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from credit.capital import asset_correlation, irb_capital, irb_figures, risk_weighted_assets
from valuation.errors import ConventionError

# Source: BCBS, Basel II comprehensive version (June 2006), Annex 5 (copied from
# ../shared/reference/irb_basel2_annex5.json with its source note).
ANNEX5 = json.loads(
    (Path(__file__).parents[1] / "data" / "credit" / "irb_basel2_annex5.json").read_text()
)
TOL_PP = ANNEX5["tolerance_pct_points"]


@pytest.mark.parametrize("row", ANNEX5["rows"], ids=lambda r: f"pd={r['pd']}")
def test_annex5_corporate_and_sme_risk_weights(row: dict) -> None:
    # the published table has no PD floor and no 1.06 factor (see its conventions)
    rw = irb_capital(row["pd"], 0.45, 2.5, pd_floor=0.0) * 12.5 * 100
    rw_sme = irb_capital(row["pd"], 0.45, 2.5, sales_meur=5.0, pd_floor=0.0) * 12.5 * 100
    assert abs(rw - row["corporate_lgd45_rw_pct"]) <= TOL_PP
    assert abs(rw_sme - row["sme_sales_5meur_lgd45_rw_pct"]) <= TOL_PP


def test_published_table_excludes_the_106_factor() -> None:
    row = ANNEX5["rows"][0]
    scaled = irb_capital(row["pd"], 0.45, pd_floor=0.0, basel2_scaling=True) * 1250
    assert abs(scaled - row["corporate_lgd45_rw_pct"]) > 0.5
    assert scaled == pytest.approx(
        1.06 * irb_capital(row["pd"], 0.45, pd_floor=0.0) * 1250, rel=1e-12
    )


def test_textbook_formula_by_hand() -> None:
    # K for PD 1 %, LGD 45 %, M = 1: hand-coded from CRE31.5 with scipy's normal.
    pd, lgd, m = 0.01, 0.45, 1.0
    w = (1 - math.exp(-50 * pd)) / (1 - math.exp(-50))
    r = 0.12 * w + 0.24 * (1 - w)
    b = (0.11852 - 0.05478 * math.log(pd)) ** 2
    k = (
        lgd * norm.cdf((norm.ppf(pd) + math.sqrt(r) * norm.ppf(0.999)) / math.sqrt(1 - r))
        - pd * lgd
    )
    k *= (1 + (m - 2.5) * b) / (1 - 1.5 * b)
    assert irb_capital(pd, lgd, m) == pytest.approx(k, rel=1e-12)


def test_pd_floor_default_and_configurable() -> None:
    assert irb_capital(0.0001, 0.45) == irb_capital(0.0005, 0.45)
    assert irb_capital(0.0001, 0.45, pd_floor=0.0003) == irb_capital(0.0003, 0.45, pd_floor=0.0)
    assert irb_capital(0.0001, 0.45, pd_floor=0.0) < irb_capital(0.0005, 0.45)


def test_sme_adjustment_bounds() -> None:
    # sales below 5 count as 5; 50 or more: no adjustment
    assert asset_correlation(0.01, 1.0) == asset_correlation(0.01, 5.0)
    assert asset_correlation(0.01, 50.0) == pytest.approx(asset_correlation(0.01))
    assert asset_correlation(0.01, 80.0) == pytest.approx(asset_correlation(0.01))
    assert asset_correlation(0.01, 5.0) == pytest.approx(asset_correlation(0.01) - 0.04)


def test_rwa_and_figures() -> None:
    k = irb_capital(0.02, 0.4)
    assert risk_weighted_assets(k, 1e6) == pytest.approx(12.5 * k * 1e6)
    f = irb_figures(0.02, 0.4, 1e6)
    assert f.rwa == pytest.approx(12.5 * k * 1e6)
    assert f.capital == pytest.approx(k * 1e6)
    assert f.expected_loss == pytest.approx(0.02 * 0.4 * 1e6)


@given(
    p1=st.floats(0.0005, 0.5),
    p2=st.floats(0.0005, 0.5),
    lgd=st.floats(0.05, 1.0),
    m=st.floats(1.0, 5.0),
)
def test_capital_monotone_in_pd_above_floor(p1: float, p2: float, lgd: float, m: float) -> None:
    lo, hi = sorted((p1, p2))
    # K rises with PD over the range where the IRB curve is increasing (below ~ 30 %)
    hi = min(hi, 0.25)
    lo = min(lo, hi)
    assert irb_capital(lo, lgd, m) <= irb_capital(hi, lgd, m) + 1e-15


@given(pd=st.floats(0.0005, 0.3), l1=st.floats(0.0, 1.0), l2=st.floats(0.0, 1.0))
def test_capital_linear_in_lgd(pd: float, l1: float, l2: float) -> None:
    assert irb_capital(pd, l1) * l2 == pytest.approx(irb_capital(pd, l2) * l1, rel=1e-9, abs=1e-15)


@given(pd=st.floats(0.0005, 0.2), m1=st.floats(1.0, 5.0), m2=st.floats(1.0, 5.0))
def test_capital_rises_with_maturity(pd: float, m1: float, m2: float) -> None:
    lo, hi = sorted((m1, m2))
    assert irb_capital(pd, 0.45, lo) <= irb_capital(pd, 0.45, hi) + 1e-15


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pd": 0.0, "lgd": 0.45}, "pd"),
        ({"pd": 1.0, "lgd": 0.45}, "pd"),
        ({"pd": 5.0, "lgd": 0.45}, "pd"),
        ({"pd": -0.1, "lgd": 0.45}, "pd"),
        ({"pd": float("nan"), "lgd": 0.45}, "pd"),
        ({"pd": 0.01, "lgd": 1.5}, "lgd"),
        ({"pd": 0.01, "lgd": 0.45, "maturity_years": 0.0}, "maturity_years"),
        ({"pd": 0.01, "lgd": 0.45, "sales_meur": -3.0}, "sales_meur"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConventionError) as info:
        irb_capital(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)
