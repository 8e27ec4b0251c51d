"""The compiled schedule kernel: equal to the numpy path row for row, equal to QuantLib on every
convention mix, whatever form the start dates take, and the columnar output."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

import credit.loans as loans_module
from credit import _schedule_kernel
from credit.loans import schedule_columns, schedules
from valuation.conventions import DayCount, calendar, to_ql_date

AMORTS = ("annuity", "linear", "bullet")
FREQS = (1, 3, 6, 12)
DAY_COUNTS = ("ACT/360", "ACT/365F", "30/360", "ACT/ACT")
CALENDARS = (None, "China", "TARGET")

pytestmark = pytest.mark.skipif(not _schedule_kernel.AVAILABLE, reason="numba is not installed")


def every_mix(seed: int) -> pd.DataFrame:
    """One loan per convention mix (3 x 4 x 4 x 3 = 144), random dates, terms and rates;
    starts include month ends and 29 February, where clipping and calendars bite."""
    rng = np.random.default_rng(seed)
    rows = []
    specials = [date(2024, 1, 31), date(2024, 2, 29), date(2024, 9, 30), date(2025, 12, 31)]
    for i, (amort, freq, dc, cal) in enumerate(
        itertools.product(AMORTS, FREQS, DAY_COUNTS, CALENDARS)
    ):
        start = (
            specials[i % 4]
            if i % 3 == 0
            else date(2023, 1, 1) + pd.Timedelta(days=int(rng.integers(0, 1500)))
        )
        rows.append(
            {
                "loan_id": i,
                "principal": float(rng.uniform(1e5, 5e7)),
                "annual_rate": float(rng.choice([0.0, rng.uniform(0.01, 0.15)], p=[0.1, 0.9])),
                "start_date": start,
                "tenor_months": freq * int(rng.integers(1, 61 // freq + 1)),
                "amortization": amort,
                "frequency_months": freq,
                "day_count": dc,
                "calendar": cal,
            }
        )
    return pd.DataFrame(rows)


def numpy_path(book: pd.DataFrame, **kw: object) -> pd.DataFrame:
    loans_module._FORCE_NUMPY = True
    try:
        return schedules(book, **kw)
    finally:
        loans_module._FORCE_NUMPY = False


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernel_equals_the_numpy_path_row_for_row(seed: int) -> None:
    book = every_mix(seed)
    fast = schedules(book, dates_as="datetime64")
    slow = numpy_path(book, dates_as="datetime64")
    assert fast["loan_id"].tolist() == slow["loan_id"].tolist()
    assert (fast["date"].to_numpy() == slow["date"].to_numpy()).all()
    for col in ("interest", "principal", "balance"):
        np.testing.assert_allclose(fast[col], slow[col], rtol=1e-12, atol=1e-7)


def _quantlib_flows(
    row: pd.Series, repaid: np.ndarray
) -> tuple[list[date], np.ndarray, np.ndarray]:
    """One AmortizingFixedRateBond with our notionals: QuantLib's dates, coupons and redemptions."""
    start = to_ql_date(row.start_date)
    freq, tenor = int(row.frequency_months), int(row.tenor_months)
    sched = ql.Schedule(
        start,
        start + ql.Period(tenor, ql.Months),
        ql.Period(freq, ql.Months),
        calendar(None if pd.isna(row.calendar) else row.calendar),
        ql.ModifiedFollowing,
        ql.ModifiedFollowing,
        ql.DateGeneration.Forward,
        False,
    )
    notionals = list(row.principal - np.concatenate([[0.0], np.cumsum(repaid)[:-1]]))
    bond = ql.AmortizingFixedRateBond(
        0,
        notionals,
        sched,
        [row.annual_rate],
        DayCount.parse(row.day_count).to_ql(),
        ql.ModifiedFollowing,
        start,
    )
    n = tenor // freq
    interest, principal, dates = np.zeros(n), np.zeros(n), []
    for cf in bond.cashflows():
        if ql.as_fixed_rate_coupon(cf) is not None:
            dates.append(date(cf.date().year(), cf.date().month(), cf.date().dayOfMonth()))
            interest[len(dates) - 1] = cf.amount()
        else:
            principal[len(dates) - 1] += cf.amount()
    return dates, interest, principal


@pytest.mark.parametrize("form", ["date", "datetime64", "string"])
def test_every_convention_mix_equals_quantlib(form: str) -> None:
    book = every_mix(7)
    given = book.copy()
    if form == "datetime64":
        given["start_date"] = np.array(book["start_date"].tolist(), dtype="datetime64[D]")
    elif form == "string":
        given["start_date"] = [d.isoformat() for d in book["start_date"]]
    out = schedules(given)
    for _, row in book.iterrows():
        part = out[out["loan_id"] == row.loan_id]
        dates, interest, principal = _quantlib_flows(row, part["principal"].to_numpy())
        assert part["date"].tolist() == dates, row.to_dict()
        scale = (
            1e-8 * row.principal
        )  # relative to the loan: rows can be near zero (bullets, zero rates)
        np.testing.assert_allclose(part["interest"], interest, rtol=1e-8, atol=scale)
        np.testing.assert_allclose(part["principal"], principal, rtol=1e-8, atol=scale)


def test_columnar_output_is_the_frame_as_arrays() -> None:
    book = every_mix(11)
    cols = schedule_columns(book)
    frame = schedules(book, dates_as="datetime64")
    assert list(cols) == list(frame.columns)
    assert cols["date"].dtype == np.dtype("datetime64[D]")
    for name, values in cols.items():
        assert isinstance(values, np.ndarray)
        assert (values == frame[name].to_numpy()).all(), name


def test_empty_book_gives_empty_columns() -> None:
    book = every_mix(1).iloc[:0]
    assert len(schedules(book)) == 0
    assert {k: len(v) for k, v in schedule_columns(book).items()} == dict.fromkeys(
        ("loan_id", "date", "interest", "principal", "balance"), 0
    )
