"""Collateral haircuts, exposure after mitigation, advance rates, pledge capacity."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.collateral import (
    DEFAULT_ADVANCE_RATES,
    AdvancePolicy,
    assess_collateral,
    available_capacity,
    can_pledge,
    exposure_after_mitigation,
    lending_value,
    max_loan,
    monte_carlo_haircut,
    scale_ten_day_haircut,
    supervisory_haircut,
)
from valuation.errors import ConventionError

# Basel comprehensive approach, derived numbers (../shared/reference/haircut_scaling.json)
REF = json.loads(
    (Path(__file__).parents[1] / "data" / "credit" / "haircut_scaling.json").read_text()
)


@pytest.mark.parametrize("case", REF["cases"])
def test_supervisory_haircut_reference(case: dict) -> None:
    h_m = scale_ten_day_haircut(case["h_10"], case["t_m_days"])
    assert (
        abs(supervisory_haircut(h_m, case["t_m_days"], case["n_r_days"]) - case["haircut"])
        <= REF["tolerance_abs"]
    )


def test_exposure_after_mitigation_reference() -> None:
    c = REF["exposure_after_mitigation"]["case"]
    got = exposure_after_mitigation(c["e"], c["c"], c["h_e"], c["h_c"], c["h_fx"])
    assert abs(got - c["e_star"]) <= REF["tolerance_abs"]


def test_exposure_after_mitigation_never_negative() -> None:
    assert exposure_after_mitigation(100.0, 1000.0, 0.0, 0.1, 0.0) == 0.0


def test_monte_carlo_haircut_is_one_minus_the_quantile_net_of_cost() -> None:
    rng = np.random.default_rng(0)
    v0 = 1_000_000.0
    paths = v0 * np.exp(rng.normal(-0.02, 0.2, 50_000))
    h, market = monte_carlo_haircut(v0, paths, quantile=0.05, liquidation_cost=0.1)
    assert market == pytest.approx(1 - np.quantile(paths / v0, 0.05), rel=1e-12)
    # the one haircut: 1 - q(V_H) / V_0 x (1 - c), the cost a fraction of proceeds
    assert h == pytest.approx(1 - (1 - market) * 0.9)
    # lognormal check: 1 - exp(-0.02 + 0.2 z_0.05)
    assert market == pytest.approx(1 - math.exp(-0.02 - 0.2 * 1.6448536), abs=5e-3)
    floored, _ = monte_carlo_haircut(v0, np.full(10, v0 * 1.1), liquidation_cost=0.0, floor=0.3)
    assert floored == 0.3


def test_assessment_and_warnings() -> None:
    paths = np.full(100, 900.0)
    a = assess_collateral(1000.0, paths, "financial", principal=700.0, tenor_months=48)
    assert a.haircut == pytest.approx(1 - 0.9 * 0.9)
    assert a.lending_value == pytest.approx(810.0)  # (1 - c) x q(V_H)
    assert a.max_loan == pytest.approx(min(0.5 * 1000.0, 810.0))
    capped = assess_collateral(1000.0, np.full(100, 500.0), "financial")
    assert capped.lending_value == pytest.approx(450.0)
    assert capped.max_loan == pytest.approx(450.0)  # the lending value caps the advance
    assert a.ltv == pytest.approx(0.7)
    assert len(a.warnings) == 2
    quiet = assess_collateral(1000.0, paths, "unknown-category", principal=100.0, tenor_months=12)
    assert quiet.warnings == ()
    assert quiet.advance_rate == DEFAULT_ADVANCE_RATES["other"]


def test_advance_policy_defaults_in_ip_range_and_override() -> None:
    assert all(0.15 <= v <= 0.60 for v in DEFAULT_ADVANCE_RATES.values())
    pol = AdvancePolicy().with_overrides({"consumer": 0.35})
    assert pol.advance_rate("consumer") == 0.35
    with pytest.raises(ConventionError) as info:
        AdvancePolicy().with_overrides({"consumer": 0.9})
    assert info.value.field == "advance_rates.consumer"


def test_max_loan_is_advance_capped_by_lending_value() -> None:
    assert max_loan(1000.0, 0.4, 0.5) == pytest.approx(500.0)
    assert max_loan(1000.0, 0.7, 0.5) == pytest.approx(300.0)
    with pytest.raises(ConventionError) as info:
        max_loan(1000.0, 0.4, 1.5)
    assert info.value.field == "advance_rate"


def test_pledge_capacity() -> None:
    assert available_capacity(1000.0, [300.0, 500.0]) == pytest.approx(200.0)
    assert can_pledge(1000.0, [300.0, 500.0], 200.0)
    assert not can_pledge(1000.0, [300.0, 500.0], 200.01)
    assert available_capacity(1000.0, [800.0, 500.0]) == 0.0


@given(h=st.floats(0.0, 0.5), t=st.integers(1, 60), n1=st.integers(1, 60), n2=st.integers(1, 60))
def test_supervisory_haircut_rises_with_revaluation_gap(h: float, t: int, n1: int, n2: int) -> None:
    lo, hi = sorted((n1, n2))
    assert supervisory_haircut(h, t, lo) <= supervisory_haircut(h, t, hi) + 1e-15
    assert supervisory_haircut(h, t, 1) == pytest.approx(h)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: supervisory_haircut(-0.1, 10, 1), "h_m"),
        (lambda: supervisory_haircut(0.1, 0, 1), "t_m_days"),
        (lambda: supervisory_haircut(0.1, 10, 0), "n_r_days"),
        (lambda: lending_value(100.0, 1.5), "haircut"),
        (lambda: monte_carlo_haircut(0.0, np.ones(3)), "value_0"),
        (lambda: monte_carlo_haircut(1.0, np.array([np.nan])), "horizon_values"),
    ],
)
def test_collateral_bad_input(call: object, field: str) -> None:
    with pytest.raises(ConventionError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field
