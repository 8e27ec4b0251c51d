"""MarketData: QuantLib curves, spreads, and no leaking global evaluation date."""

from __future__ import annotations

import math
import threading
from datetime import date

import numpy as np
import pytest
import QuantLib as ql

from valuation.conventions import Compounding, DayCount, year_fraction
from valuation.errors import ConventionError
from valuation.market import MarketData

AS_OF = date(2025, 3, 31)


def test_flat_continuous_curve_matches_closed_form() -> None:
    curve = MarketData.flat_rate(
        AS_OF, 0.04, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.CONTINUOUS
    )
    d = date(2027, 6, 30)
    t = year_fraction(AS_OF, d, DayCount.ACT_365F)
    assert curve.discount_factors([d])[0] == pytest.approx(math.exp(-0.04 * t), rel=1e-12)


def test_zero_curve_interpolates_linearly_and_spread_adds() -> None:
    pillars = [date(2026, 3, 31), date(2030, 3, 31)]
    curve = MarketData.zero_curve(
        AS_OF,
        pillars,
        [0.02, 0.04],
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.CONTINUOUS,
    )
    d = date(2028, 3, 31)
    t = year_fraction(AS_OF, d, DayCount.ACT_365F)
    t1, t2 = (year_fraction(AS_OF, p, DayCount.ACT_365F) for p in pillars)
    z = 0.02 + (0.04 - 0.02) * (t - t1) / (t2 - t1)
    assert curve.discount_factors([d])[0] == pytest.approx(math.exp(-z * t), rel=1e-10)
    spreaded = curve.with_risk_premium(0.05)
    assert spreaded.discount_factors([d])[0] == pytest.approx(math.exp(-(z + 0.05) * t), rel=1e-10)
    # flat extrapolation beyond the last pillar
    far = date(2040, 3, 30)
    tf = year_fraction(AS_OF, far, DayCount.ACT_365F)
    assert curve.discount_factors([far])[0] == pytest.approx(math.exp(-0.04 * tf), rel=1e-10)
    shifted = curve.parallel_shift(100.0)
    assert shifted.zero_rates == pytest.approx((0.03, 0.05))


def test_discount_factors_fall_with_time() -> None:
    curve = MarketData.flat_rate(
        AS_OF, 0.03, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    ).with_risk_premium(0.02)
    dfs = curve.discount_factors([date(2025 + k, 3, 31) for k in range(1, 30)])
    assert np.all(np.diff(dfs) < 0)


def test_global_evaluation_date_is_restored() -> None:
    settings = ql.Settings.instance()
    before = settings.evaluationDate
    MarketData.flat_rate(
        date(2001, 1, 1),
        0.03,
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    ).discount_factors([date(2002, 1, 1)])
    assert settings.evaluationDate == before


def test_concurrent_calls_do_not_interfere() -> None:
    curves = [
        MarketData.flat_rate(
            date(2020 + i, 1, 1),
            0.01 * (i + 1),
            currency="CNY",
            day_count=DayCount.ACT_365F,
            compounding=Compounding.ANNUAL,
        )
        for i in range(4)
    ]
    expected = [c.discount_factors([date(c.as_of.year + 2, 1, 1)])[0] for c in curves]
    results: dict[int, list[float]] = {i: [] for i in range(4)}

    def work(i: int) -> None:
        c = curves[i]
        for _ in range(50):
            results[i].append(c.discount_factors([date(c.as_of.year + 2, 1, 1)])[0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i in range(4):
        assert results[i] == [expected[i]] * 50


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"currency": "cny"}, "currency"),
        ({"zero_rates": (5.0,)}, "zero_rates"),
        ({"pillar_dates": (date(2024, 1, 1),)}, "pillar_dates"),
        ({"risk_premium": float("nan")}, "risk_premium"),
        ({"day_count": "ACT/999"}, "day_count"),
    ],
)
def test_bad_market_data_names_the_field(kwargs, field) -> None:
    base = {
        "as_of": AS_OF,
        "currency": "CNY",
        "pillar_dates": (date(2026, 1, 1),),
        "zero_rates": (0.02,),
        "day_count": DayCount.ACT_365F,
        "compounding": Compounding.ANNUAL,
    }
    with pytest.raises(ConventionError) as err:
        MarketData(**{**base, **kwargs})
    assert err.value.field == field


def test_past_dates_are_rejected() -> None:
    curve = MarketData.flat_rate(
        AS_OF, 0.02, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )
    with pytest.raises(ConventionError, match="after `as_of`"):
        curve.discount_factors([AS_OF])


def test_flat_from_a_rate_and_conventions_are_required() -> None:
    from valuation.conventions import Rate

    rate = Rate(0.05, DayCount.ACT_365F, Compounding.ANNUAL)
    curve = MarketData.flat(AS_OF, rate, currency="CNY")
    assert curve.discount_factors([date(2026, 3, 31)])[0] == pytest.approx(1 / 1.05, rel=1e-12)
    with pytest.raises(ConventionError, match="conventions"):
        MarketData.flat(AS_OF, 0.05, currency="CNY")
    assert curve.spreaded(0.01) == curve.with_risk_premium(0.01)


def test_a_curve_is_read_forward_from_a_later_valuation_date() -> None:
    curve = MarketData.zero_curve(
        AS_OF,
        [date(2026, 3, 31), date(2030, 3, 31)],
        [0.02, 0.04],
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.CONTINUOUS,
    )
    later, d = date(2026, 3, 31), date(2028, 3, 31)
    fwd = curve.discount_factors([d], from_date=later)[0]
    assert fwd == pytest.approx(
        curve.discount_factors([d])[0] / curve.discount_factors([later])[0], rel=1e-14
    )
    with pytest.raises(ConventionError):
        curve.discount_factors([d], from_date=date(2020, 1, 1))
