"""Loan schedules: textbook reference, QuantLib cross-checks, vectorised path, properties, bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from credit.loans import schedule, schedules
from credit.terms import FloatingRate
from valuation.conventions import DayCount, calendar, to_ql_date
from valuation.daycounts import year_fractions
from valuation.errors import ConventionError

# 1,000,000 at 6 %, 60 monthly payments; plain arithmetic cross-checked against QuantLib
# (../shared/reference/amortization.json, copied with its source note)
AMORT = json.loads(
    (Path(__file__).parents[1] / "data" / "credit" / "amortization.json").read_text()
)


@pytest.mark.parametrize("key", list(AMORT["schedules"]))
def test_reference_schedules(key: str) -> None:
    amort, dc = key.split("|")
    amort = amort.replace("_level_payment", "")
    ref = AMORT["schedules"][key]
    df = schedule(1_000_000.0, 0.06, date(2025, 1, 15), 60, amort, 1, dc)
    rows = ref["rows"]
    assert len(df) == len(rows)
    assert [d.isoformat() for d in df["date"]] == [r["date"] for r in rows]
    np.testing.assert_allclose(df["interest"], [r["interest"] for r in rows], rtol=0, atol=1e-6)
    np.testing.assert_allclose(df["principal"], [r["principal"] for r in rows], rtol=0, atol=1e-6)
    np.testing.assert_allclose(df["balance"], [r["closing"] for r in rows], rtol=0, atol=1e-6)
    pay = df["interest"] + df["principal"]
    assert pay.iloc[0] == pytest.approx(ref["first_payment"], abs=1e-6)
    assert pay.iloc[-1] == pytest.approx(ref["last_payment"], abs=1e-6)
    assert df["interest"].sum() == pytest.approx(ref["total_interest"], abs=1e-6)


def test_annuity_level_payment_formula() -> None:
    df = schedule(1_000_000.0, 0.06, "2025-01-15", 60, "annuity", 1, "30/360")
    assert (df["interest"] + df["principal"]).iloc[0] == pytest.approx(
        AMORT["annuity_payment_formula_value"], abs=1e-8
    )


def _quantlib_bond(
    df: pd.DataFrame,
    principal: float,
    rate: float,
    start: date,
    tenor: int,
    freq: int,
    dc: str,
    cal: str | None,
    bdc: int = ql.ModifiedFollowing,
) -> ql.Bond:
    qcal = calendar(cal)
    qstart = to_ql_date(start)
    sched = ql.Schedule(
        qstart,
        qstart + ql.Period(tenor, ql.Months),
        ql.Period(freq, ql.Months),
        qcal,
        bdc,
        bdc,
        ql.DateGeneration.Forward,
        False,
    )
    notionals = [principal, *df["balance"].iloc[:-1].tolist()]
    return ql.AmortizingFixedRateBond(
        0, notionals, sched, [rate], DayCount.parse(dc).to_ql(), bdc, qstart
    )


def _quantlib_flows(bond: ql.Bond) -> tuple[list[date], list[float], list[float]]:
    interest: dict[date, float] = {}
    principal: dict[date, float] = {}
    for cf in bond.cashflows():
        d = date(cf.date().year(), cf.date().month(), cf.date().dayOfMonth())
        target = interest if ql.as_fixed_rate_coupon(cf) is not None else principal
        target[d] = target.get(d, 0.0) + cf.amount()
    dates = sorted(set(interest) | set(principal))
    return dates, [interest.get(d, 0.0) for d in dates], [principal.get(d, 0.0) for d in dates]


@pytest.mark.parametrize(
    ("amort", "freq", "dc", "cal", "tenor"),
    [
        ("annuity", 1, "ACT/365F", "China", 36),
        ("annuity", 3, "ACT/360", "TARGET", 60),
        ("linear", 6, "30/360", "China", 48),
        ("bullet", 12, "ACT/ACT", "UnitedStates", 60),
        ("annuity", 1, "ACT/ACT", None, 24),
        ("linear", 1, "ACT/360", "HongKong", 18),
    ],
)
def test_against_quantlib_amortizing_bond(
    amort: str, freq: int, dc: str, cal: str | None, tenor: int
) -> None:
    start = date(2024, 9, 30)  # a month end: clipping and China's October holidays
    principal, rate = 7_500_000.0, 0.0485
    df = schedule(principal, rate, start, tenor, amort, freq, dc, cal)
    bond = _quantlib_bond(df, principal, rate, start, tenor, freq, dc, cal)
    dates, interest, repaid = _quantlib_flows(bond)
    assert dates == list(df["date"])
    np.testing.assert_allclose(df["interest"], interest, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(df["principal"], repaid, rtol=1e-10, atol=1e-8)


def test_reference_price_with_quantlib_flat_curve() -> None:
    # price of the 30/360 annuity on a flat 5 % continuous ACT/365F curve at 2026-03-01
    terms = AMORT["terms"]
    ref = AMORT["schedules"]["annuity_level_payment|30/360"]["price_quantlib"]
    df = schedule(terms["principal"], terms["rate"], terms["start"], 60, "annuity", 1, "30/360")
    bond = _quantlib_bond(
        df,
        terms["principal"],
        terms["rate"],
        date(2025, 1, 15),
        60,
        1,
        "30/360",
        None,
        ql.Unadjusted,
    )
    settle = ql.Date(1, 3, 2026)
    saved = ql.Settings.instance().evaluationDate
    try:
        ql.Settings.instance().evaluationDate = settle
        curve = ql.YieldTermStructureHandle(
            ql.FlatForward(settle, 0.05, ql.Actual365Fixed(), ql.Continuous)
        )
        bond.setPricingEngine(ql.DiscountingBondEngine(curve))
        assert bond.dirtyPrice() == pytest.approx(ref["dirty_pct"], abs=1e-9)
        assert bond.NPV() == pytest.approx(ref["npv_currency"], abs=1e-6)
    finally:
        ql.Settings.instance().evaluationDate = saved
    # the same price from our flows and plain discounting
    d64 = np.array(df["date"].tolist(), dtype="datetime64[D]")
    t = (d64 - np.datetime64("2026-03-01")).astype(float) / 365.0
    future = t > 0
    flows = (df["interest"] + df["principal"]).to_numpy()
    npv = float(np.sum(flows[future] * np.exp(-0.05 * t[future])))
    assert npv == pytest.approx(ref["npv_currency"], abs=1e-6)


def test_year_fractions_match_quantlib() -> None:
    rng = np.random.default_rng(0)
    s = np.datetime64("2023-01-01") + rng.integers(0, 1500, 400)
    e = s + rng.integers(1, 800, 400)
    for dc in DayCount:
        got = year_fractions(s, e, dc)
        qdc = dc.to_ql()
        want = [
            qdc.yearFraction(to_ql_date(a.item()), to_ql_date(b.item()))
            for a, b in zip(s, e, strict=True)
        ]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


def test_business_day_adjustment_china() -> None:
    # 2024-10-01..07 is China's National Day holiday: 2024-10-01 moves to 2024-10-08
    df = schedule(1e6, 0.05, date(2024, 9, 1), 3, "bullet", 1, "ACT/365F", "China")
    assert df["date"].tolist() == [date(2024, 10, 8), date(2024, 11, 1), date(2024, 12, 2)]
    assert calendar("China").isBusinessDay(to_ql_date(date(2024, 10, 8)))


def test_floating_rate_with_flat_curve_equals_fixed() -> None:
    class FlatSimple:
        # simple-compounded 5 % ACT/365F forward on every period
        def discount_factors(self, dates: list[date]) -> np.ndarray:
            t = np.array([(d - dates[0]).days for d in dates], float) / 365.0
            return np.exp(-np.log1p(0.05 * 1.0 / 12) * 12 * t)

    float_df = schedule(
        1e6, FloatingRate(FlatSimple(), spread_bp=0.0), "2025-01-15", 12, "linear", 1, "ACT/365F"
    )
    assert float_df["balance"].iloc[-1] == 0.0
    assert (float_df["interest"] > 0).all()
    # a spread adds spread x balance x yf to each interest payment
    wide = schedule(
        1e6, FloatingRate(FlatSimple(), spread_bp=100.0), "2025-01-15", 12, "linear", 1, "ACT/365F"
    )
    yf = (
        np.array(
            [
                (b - a).days
                for a, b in zip([date(2025, 1, 15), *wide["date"][:-1]], wide["date"], strict=True)
            ]
        )
        / 365.0
    )
    opening = np.concatenate([[1e6], wide["balance"].to_numpy()[:-1]])
    np.testing.assert_allclose(
        wide["interest"] - float_df["interest"], 0.01 * opening * yf, rtol=1e-10
    )


def _random_book(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(n)],
            "principal": rng.uniform(1e5, 2e7, n),
            "annual_rate": rng.uniform(0.0, 0.12, n),
            "start_date": [
                date(2024, 1, 1) + pd.Timedelta(days=int(x)) for x in rng.integers(0, 900, n)
            ],
            "tenor_months": rng.choice([12, 24, 36, 60], n),
            "amortization": rng.choice(["annuity", "linear", "bullet"], n),
            "frequency_months": rng.choice([1, 3, 6, 12], n),
            "day_count": rng.choice(["ACT/360", "ACT/365F", "30/360", "ACT/ACT"], n),
            "calendar": rng.choice(np.array(["China", "TARGET", None], dtype=object), n),
        }
    )


def test_vectorised_schedules_equal_single_loan_schedules() -> None:
    book = _random_book(200, 1)
    long = schedules(book)
    assert list(long.columns) == ["loan_id", "date", "interest", "principal", "balance"]
    for _, row in book.iterrows():
        single = schedule(
            row.principal,
            row.annual_rate,
            row.start_date,
            int(row.tenor_months),
            row.amortization,
            int(row.frequency_months),
            row.day_count,
            None if pd.isna(row.calendar) else row.calendar,
        )
        part = long[long["loan_id"] == row.loan_id]
        assert part["date"].tolist() == single["date"].tolist()
        np.testing.assert_allclose(
            part[["interest", "principal", "balance"]].to_numpy(),
            single[["interest", "principal", "balance"]].to_numpy(),
            rtol=1e-12,
            atol=1e-9,
        )


@given(
    principal=st.floats(1e3, 1e9),
    rate=st.floats(0.0, 0.3),
    periods=st.integers(1, 50),
    freq=st.sampled_from([1, 3, 6, 12]),
    dc=st.sampled_from(["ACT/360", "ACT/365F", "30/360", "ACT/ACT"]),
    amort=st.sampled_from(["annuity", "linear", "bullet"]),
)
@settings(max_examples=60, deadline=None)
def test_schedule_properties(
    principal: float, rate: float, periods: int, freq: int, dc: str, amort: str
) -> None:
    df = schedule(principal, rate, date(2025, 3, 31), periods * freq, amort, freq, dc)
    assert df["balance"].iloc[-1] == 0.0
    assert df["principal"].sum() == pytest.approx(principal, rel=1e-10)
    opening = np.concatenate([[principal], df["balance"].to_numpy()[:-1]])
    np.testing.assert_allclose(
        opening - df["principal"], df["balance"], rtol=1e-12, atol=1e-6 * principal * 1e-6
    )
    assert (df["interest"] >= -1e-9).all()
    if amort == "annuity" and periods > 1:
        # interest + principal = the level payment on every date but the last
        pay = (df["interest"] + df["principal"]).to_numpy()
        np.testing.assert_allclose(pay[:-1], pay[0], rtol=1e-12)
        if dc == "30/360":
            # mid-month dates: every 30/360 period is exactly 1/f, so all payments are level
            mid = schedule(principal, rate, date(2025, 3, 15), periods * freq, amort, freq, dc)
            level = (mid["interest"] + mid["principal"]).to_numpy()
            np.testing.assert_allclose(level, level[0], rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"principal": 0.0}, "principal"),
        ({"principal": -5.0}, "principal"),
        ({"annual_rate": 6.0}, "annual_rate"),
        ({"tenor_months": 0}, "tenor_months"),
        ({"tenor_months": 13, "frequency_months": 3}, "tenor_months"),
        ({"frequency_months": 2}, "frequency_months"),
        ({"amortization": "balloon"}, "amortization"),
        ({"day_count": "ACT/364"}, "day_count"),
        ({"calendar": "Atlantis"}, "calendar"),
        ({"start_date": "2025-13-01"}, "start_date"),
    ],
)
def test_bad_input_names_field(kwargs: dict, field: str) -> None:
    args = {
        "principal": 1e6,
        "annual_rate": 0.05,
        "start_date": "2025-01-15",
        "tenor_months": 12,
        "amortization": "annuity",
        "frequency_months": 1,
        "day_count": "ACT/365F",
        "calendar": None,
    } | kwargs
    with pytest.raises(ConventionError) as info:
        schedule(**args)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [
        ("principal", -1.0, "principal"),
        ("day_count", "BAD", "day_count"),
        ("calendar", "Mars", "calendar"),
        ("annual_rate", 5.0, "annual_rate"),
        ("amortization", "x", "amortization"),
    ],
)
def test_schedules_bad_input(column: str, value: object, field: str) -> None:
    book = _random_book(5, 2)
    book[column] = book[column].astype(object)
    book.loc[2, column] = value
    with pytest.raises(ConventionError) as info:
        schedules(book)
    assert info.value.field == field


def test_vectorised_floating_schedules_equal_single_floating_schedules() -> None:
    class Curve:
        # zero rates rising from 2 % to 4 % over five years, continuous ACT/365F
        def discount_factors(self, dates: list[date]) -> np.ndarray:
            t = np.array([(d - date(2024, 1, 1)).days for d in dates], float) / 365.0
            return np.exp(-(0.02 + 0.004 * t) * t)

    book = _random_book(40, 5)
    book["spread_bp"] = np.linspace(50.0, 400.0, len(book))
    long = schedules(book, curve=Curve())
    for _, row in book.iterrows():
        single = schedule(
            row.principal,
            FloatingRate(Curve(), spread_bp=row.spread_bp),
            row.start_date,
            int(row.tenor_months),
            row.amortization,
            int(row.frequency_months),
            row.day_count,
            None if pd.isna(row.calendar) else row.calendar,
        )
        part = long[long["loan_id"] == row.loan_id]
        assert part["balance"].iloc[-1] == 0.0
        np.testing.assert_allclose(
            part[["interest", "principal", "balance"]].to_numpy(),
            single[["interest", "principal", "balance"]].to_numpy(),
            rtol=1e-10,
            atol=1e-6,
        )


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    periods=st.integers(1, 24),
    freq=st.sampled_from([1, 3, 6, 12]),
    dc=st.sampled_from(["ACT/360", "ACT/365F", "30/360", "ACT/ACT"]),
    cal=st.sampled_from([None, "China", "TARGET", "UnitedStates", "Japan"]),
    amort=st.sampled_from(["annuity", "linear", "bullet"]),
    rate=st.floats(0.0, 0.2),
)
@settings(max_examples=40, deadline=None)
def test_random_loans_against_quantlib(
    start: date, periods: int, freq: int, dc: str, cal: str | None, amort: str, rate: float
) -> None:
    principal = 2_500_000.0
    df = schedule(principal, rate, start, periods * freq, amort, freq, dc, cal)
    bond = _quantlib_bond(df, principal, rate, start, periods * freq, freq, dc, cal)
    dates, interest, repaid = _quantlib_flows(bond)
    assert dates == list(df["date"])
    np.testing.assert_allclose(df["interest"], interest, rtol=1e-10, atol=1e-7)
    np.testing.assert_allclose(df["principal"], repaid, rtol=1e-10, atol=1e-7)
