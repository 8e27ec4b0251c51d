"""Amortization schedules (annuity, linear, bullet) of loan terms, one loan or many at once.

The terms themselves (`LoanTerms`, `FloatingRate`, `Amortization`) are `credit.terms`.

Date logic (schedule dates, calendars, day counts) is kept apart from the float
kernel `amortize_padded`, which works on padded ``(n_loans, n_periods)`` arrays, so the
single-loan `schedule` and the vectorised `schedules` run the same arithmetic.

Conventions
-----------
* Payment dates: ``start_date + k * frequency_months`` months (day clipped to the
  month's end, no end-of-month rule; QuantLib ``DateGeneration.Forward``), then moved
  to a business day of ``calendar`` with ``business_day_convention`` (default
  Modified Following). Interest accrues between the adjusted dates, as in QuantLib's
  ``Schedule`` with the same convention for accrual and payment.
* Day counts: ``ACT/360``, ``ACT/365F``, ``30/360`` (bond basis, QuantLib
  ``Thirty360.BondBasis``) and ``ACT/ACT`` (ISDA), as in `valuation.conventions`
  (over arrays of dates: `valuation.daycounts`).
* Annuity: the level payment comes from the periodic rate
  ``r_p = annual_rate * frequency_months / 12``:
  ``A = P r_p / (1 - (1 + r_p)^(-n))`` (``P / n`` at a zero rate); interest accrues by
  the day count on the outstanding balance, ``I_k = B_{k-1} * annual_rate * yf_k``;
  principal is ``A - I_k``; the final payment clears the balance. Under 30/360 every
  payment is level; under actual day counts the payments differ slightly from ``A``.
  For a floating rate the level payment is recomputed at each period from that
  period's rate and the number of periods left.
* Linear: equal principal ``P / n`` each period, interest on the outstanding balance.
* Bullet: interest only, the principal at maturity.

Rates are decimals (0.06 is 6 %); spreads are in basis points (``spread_bp``).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from credit import _schedule_kernel
from credit.amortization import AMORTIZATION_CODES, amortize_long, amortize_padded
from credit.terms import FREQUENCIES_MONTHS, Amortization, DiscountCurve, FloatingRate, LoanTerms
from valuation._typing import FloatArray, IntArray
from valuation.conventions import (
    DayCount,
    calendar,
    parse_date,
)
from valuation.conventions import (
    business_day_convention as ql_business_day_convention,
)
from valuation.daycounts import (
    DAY_COUNT_CODES,
    MONTH_LENGTHS,
    adjust_days,
    adjustment_table,
    civil_from_days,
    days_from_civil,
    is_leap,
    year_fractions,
    year_fractions_days,
)
from valuation.errors import ConventionError

#: Route `schedule_columns` through the numpy path even when the compiled kernel is available
#: (set by the tests that compare the two).
_FORCE_NUMPY = False


# ----------------------------------------------------------------------------- day counts


# ----------------------------------------------------------------------------- kernel


# ----------------------------------------------------------------------------- one loan


def loan_terms(
    principal: float,
    annual_rate: float | FloatingRate,
    start_date: date | str,
    tenor_months: int,
    amortization: str,
    frequency_months: int = 1,
    day_count: str = "ACT/365F",
    calendar: str | None = None,
    business_day_convention: str = "ModifiedFollowing",
) -> LoanTerms:
    """Parse and validate boundary values into `LoanTerms` (errors name the field)."""
    return LoanTerms(
        principal=principal,
        annual_rate=annual_rate,
        start_date=parse_date(start_date, field="start_date"),
        tenor_months=tenor_months,
        amortization=Amortization.parse(amortization),
        frequency_months=frequency_months,
        day_count=DayCount.parse(day_count),
        calendar=calendar,
        business_day_convention=business_day_convention,
    )


def schedule(
    principal: float,
    annual_rate: float | FloatingRate,
    start_date: date | str,
    tenor_months: int,
    amortization: str,
    frequency_months: int = 1,
    day_count: str = "ACT/365F",
    calendar: str | None = None,
    *,
    business_day_convention: str = "ModifiedFollowing",
) -> pd.DataFrame:
    """Amortization schedule of one loan.

    Parameters
    ----------
    principal : float
        Amount lent (major units), > 0.
    annual_rate : float or FloatingRate
        Fixed annual rate as a decimal (0.06 is 6 %), or a `FloatingRate` (curve + spread_bp).
    start_date : date or ISO str
        Disbursement date.
    tenor_months : int
        Months to maturity, a multiple of ``frequency_months``.
    amortization : {"annuity", "linear", "bullet"}
        Annuity convention: the level payment comes from the periodic rate
        (annual rate x frequency_months / 12), interest accrues by the day count on the
        outstanding balance, and the final payment clears the balance.
    frequency_months : {1, 3, 6, 12}
    day_count : {"ACT/360", "ACT/365F", "30/360", "ACT/ACT"}
    calendar : str, optional
        Calendar name, e.g. "China", "TARGET"; None = no holidays.
    business_day_convention : str, default "ModifiedFollowing"

    Returns
    -------
    pandas.DataFrame
        One row per payment: ``date`` (datetime.date, adjusted), ``interest``,
        ``principal`` (repaid that date) and ``balance`` (outstanding after it), in
        the loan's currency units.

    Raises
    ------
    ConventionError
        Bad input; ``field`` names it (principal, annual_rate, tenor_months, ...).

    Examples
    --------
    >>> df = schedule(1_000_000, 0.06, "2025-01-15", 60, "annuity", 1, "30/360")
    >>> round(float(df.interest.iloc[0] + df.principal.iloc[0]), 6)
    19332.801529
    """
    terms = loan_terms(
        principal,
        annual_rate,
        start_date,
        tenor_months,
        amortization,
        frequency_months,
        day_count,
        calendar,
        business_day_convention,
    )
    return terms_schedule(terms)


def terms_schedule(terms: LoanTerms) -> pd.DataFrame:
    """`schedule` for validated `LoanTerms`."""
    dates = terms.dates()
    d64 = np.array(dates, dtype="datetime64[D]")
    yf = year_fractions(d64[:-1], d64[1:], terms.day_count)
    n = terms.n_periods
    if isinstance(terms.annual_rate, FloatingRate):
        rates = terms.annual_rate.period_rates(dates, yf)
    else:
        rates = np.full(n, float(terms.annual_rate))
    interest, repaid, closing = amortize_padded(
        np.array([float(terms.principal)]),
        rates.reshape(1, n),
        yf.reshape(1, n),
        np.array([n]),
        np.array([AMORTIZATION_CODES[terms.amortization]]),
        np.array([12.0 / terms.frequency_months]),
        reset_level=isinstance(terms.annual_rate, FloatingRate),
    )
    return pd.DataFrame(
        {"date": dates[1:], "interest": interest[0], "principal": repaid[0], "balance": closing[0]}
    )


def balance_at(rows: pd.DataFrame, as_of: date, principal: float) -> float:
    """Return a loan's outstanding balance at ``as_of`` from its schedule.

    The balance after the last payment dated on or before ``as_of``; the ``principal``
    before the first payment. ``rows`` are one loan's schedule rows in date order (columns
    ``date`` and ``balance``, as `schedule` and `schedules` give them).

    >>> rows = schedule(1200.0, 0.0, "2025-01-15", 12, "linear")
    >>> balance_at(rows, date(2025, 3, 31), 1200.0), balance_at(rows, date(2025, 1, 31), 1200.0)
    (1000.0, 1200.0)
    """
    paid = [float(b) for d, b in zip(rows["date"], rows["balance"], strict=True) if d <= as_of]
    return paid[-1] if paid else float(principal)


# ----------------------------------------------------------------------------- many loans


_LOANS_COLUMNS = (
    "loan_id",
    "principal",
    "annual_rate",
    "start_date",
    "tenor_months",
    "amortization",
    "frequency_months",
    "day_count",
)


SCHEDULE_COLUMNS = ("loan_id", "date", "interest", "principal", "balance")


def schedules(
    loans: pd.DataFrame,
    *,
    business_day_convention: str = "ModifiedFollowing",
    dates_as: str = "date",
    curve: DiscountCurve | None = None,
) -> pd.DataFrame:
    """Schedules of many loans at once (vectorised over loans and periods).

    The frame wraps the arrays of `schedule_columns` without copying them (one block per
    column), so building it costs microseconds, not a pass over every row.

    Parameters
    ----------
    loans : pandas.DataFrame
        Columns ``loan_id``, ``principal``, ``annual_rate`` (decimal), ``start_date``
        (date, ISO str or datetime64), ``tenor_months``, ``amortization``,
        ``frequency_months``, ``day_count``; optional ``calendar`` (name or None).
    business_day_convention : str, default "ModifiedFollowing"
    dates_as : {"date", "datetime64"}
        ``date`` gives ``datetime.date`` objects as in `schedule`; ``datetime64`` keeps
        numpy dates (faster for very large books).
    curve : DiscountCurve, optional
        Makes every loan floating: each period's rate is the curve's simple forward over
        the accrual period plus the loan's ``spread_bp`` column (0 when absent), as
        `FloatingRate`; ``annual_rate`` is then ignored (it must still be a valid decimal).

    Returns
    -------
    pandas.DataFrame
        Long frame ``loan_id``, ``date``, ``interest``, ``principal``, ``balance``:
        every payment row of every loan, loans in input order, rows in date order,
        equal row for row to `schedule` of each loan.

    Notes
    -----
    Rows are laid out loan by loan (ragged, no padding). The balance recursion runs
    over the period index with numpy operations on all loans still alive at that
    period, so the work is proportional to the number of rows.
    """
    return pd.DataFrame(
        schedule_columns(
            loans, business_day_convention=business_day_convention, dates_as=dates_as, curve=curve
        ),
        columns=list(SCHEDULE_COLUMNS),
        copy=False,
    )


def schedule_columns(
    loans: pd.DataFrame,
    *,
    business_day_convention: str = "ModifiedFollowing",
    dates_as: str = "datetime64",
    curve: DiscountCurve | None = None,
) -> dict[str, np.ndarray]:
    """Return the rows of `schedules` as a dict of numpy arrays.

    For callers that do not need pandas.

    Same parameters and rows as `schedules`; keys ``loan_id``, ``date`` (``datetime64[D]``
    unless ``dates_as="date"``), ``interest``, ``principal``, ``balance``. The arrays are
    fresh (the caller owns them); Arrow users can wrap them with ``pyarrow.table(...)``
    without a copy.
    """
    if not isinstance(loans, pd.DataFrame):
        raise ConventionError("The `loans` must be a pandas DataFrame.", field="loans")
    if dates_as not in ("date", "datetime64"):
        raise ConventionError(
            f"The `dates_as` must be 'date' or 'datetime64'. Got {dates_as!r}.", field="dates_as"
        )
    missing = [c for c in _LOANS_COLUMNS if c not in loans.columns]
    if missing:
        raise ConventionError(f"The `loans` frame lacks columns {missing}.", field=missing[0])
    n_loans = len(loans)
    if n_loans == 0:
        empty_dates = np.array([], dtype="datetime64[D]" if dates_as == "datetime64" else object)
        return {
            "loan_id": loans["loan_id"].to_numpy()[:0],
            "date": empty_dates,
            "interest": np.zeros(0),
            "principal": np.zeros(0),
            "balance": np.zeros(0),
        }
    try:
        principal = loans["principal"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ConventionError("The `principal` must be numbers.", field="principal") from None
    bad = ~np.isfinite(principal) | (principal <= 0)
    if bad.any():
        raise ConventionError(
            f"The `principal` must be positive. Got {principal[bad][0]!r} (loan "
            f"{loans['loan_id'].iloc[int(np.flatnonzero(bad)[0])]!r}).",
            field="principal",
        )
    try:
        rate = loans["annual_rate"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ConventionError("The `annual_rate` must be decimals.", field="annual_rate") from None
    bad = ~np.isfinite(rate) | (np.abs(rate) >= 1.0)
    if bad.any():
        raise ConventionError(
            f"The `annual_rate` must be a decimal in (-1, 1). Got {rate[bad][0]!r}; was a percentage passed?",
            field="annual_rate",
        )
    freq = loans["frequency_months"].to_numpy()
    bad = ~np.isin(freq, FREQUENCIES_MONTHS)
    if bad.any():
        raise ConventionError(
            f"The `frequency_months` must be one of {FREQUENCIES_MONTHS}. Got {freq[bad][0]!r}.",
            field="frequency_months",
        )
    freq = freq.astype(np.int64)
    tenor = loans["tenor_months"].to_numpy()
    bad = (tenor <= 0) | (tenor % freq != 0) | (tenor > 600) | (tenor != np.floor(tenor))
    if bad.any():
        raise ConventionError(
            f"The `tenor_months` must be a positive multiple of frequency_months, at most 600. "
            f"Got {tenor[bad][0]!r}.",
            field="tenor_months",
        )
    tenor = tenor.astype(np.int64)
    # conventions by factorizing each column once (fast on Arrow-backed strings); every
    # distinct value is parsed once, so a bad one is named with its field
    amort_codes, amort_values = pd.factorize(loans["amortization"], use_na_sentinel=True)
    if (amort_codes < 0).any():
        Amortization.parse(None)
    code = np.array(
        [AMORTIZATION_CODES[Amortization.parse(v)] for v in amort_values], dtype=np.int64
    )[amort_codes]
    dc_codes, dc_values = pd.factorize(loans["day_count"], use_na_sentinel=True)
    if (dc_codes < 0).any():
        DayCount.parse(None)
    dc_parsed = [DayCount.parse(v) for v in dc_values]
    dc_code = np.array([DAY_COUNT_CODES.index(dc) for dc in dc_parsed], dtype=np.int64)[dc_codes]
    present_dcs = set(dc_parsed)
    # calendar: code 0 is no calendar, j >= 1 the j-th name in cal_names
    cal_names: list[str] = []
    cal_code = np.zeros(n_loans, dtype=np.int64)
    if "calendar" in loans.columns:
        c_codes, c_values = pd.factorize(loans["calendar"], use_na_sentinel=True)
        lookup = np.zeros(len(c_values) + 1, dtype=np.int64)  # the last slot: NA -> 0
        for j, name in enumerate(c_values):
            calendar(name)
            if name not in (None, "NullCalendar"):
                cal_names.append(str(name))
                lookup[j] = len(cal_names)
        cal_code = lookup[c_codes]
    ql_business_day_convention(business_day_convention)
    try:
        start = (
            pd.to_datetime(loans["start_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
        )
    except (ValueError, TypeError):
        raise ConventionError(
            "The `start_date` must be dates (ISO YYYY-MM-DD).", field="start_date"
        ) from None

    n_per = tenor // freq
    if curve is None and _schedule_kernel.AVAILABLE and not _FORCE_NUMPY:
        return _kernel_columns(
            loans,
            start,
            n_per,
            freq,
            tenor,
            code,
            dc_code,
            cal_code,
            cal_names,
            principal,
            rate,
            business_day_convention,
            dates_as,
        )
    total = int(n_per.sum())
    offsets = np.cumsum(n_per) - n_per
    k = np.arange(total, dtype=np.int64) - np.repeat(offsets, n_per) + 1  # period 1..n
    # unadjusted dates start + k * freq months, day clipped to the month's length
    y0, m0, d0 = civil_from_days(start)
    months = np.repeat(y0 * 12 + m0 - 1, n_per) + k * np.repeat(freq, n_per)
    yy, mm0 = np.divmod(months, 12)
    mm = mm0 + 1
    month_len = MONTH_LENGTHS[mm0] + ((mm == 2) & is_leap(yy))
    m_lo = int(months.min())
    month_index = np.arange(m_lo, int(months.max()) + 1, dtype=np.int64)
    ty, tm = np.divmod(month_index, 12)
    month_start = days_from_civil(ty, tm + 1, np.ones_like(ty))
    pay = month_start[months - m_lo] + np.minimum(np.repeat(d0, n_per), month_len) - 1
    start_adj = start
    # every day of the book's date range, once: calendar adjustment and (y, m, d) by lookup
    lo = int(min(pay.min(), start.min()))
    hi = int(max(pay.max(), start.max())) + 8  # room for a following business day
    span = np.arange(lo, hi, dtype=np.int64)
    if cal_names:
        # business-day adjustment by table lookup: every day in the book's date range is
        # adjusted once per calendar through QuantLib, then rows gather from the table
        table = np.empty((len(cal_names) + 1, span.size), dtype=np.int64)
        table[0] = span
        for j, c in enumerate(cal_names, start=1):
            table[j] = adjust_days(span, c, business_day_convention)
        pay = table[np.repeat(cal_code, n_per), pay - lo]
        start_adj = table[cal_code, start - lo]
    prev = np.empty_like(pay)
    prev[1:] = pay[:-1]
    prev[offsets] = start_adj
    needs_civil = any(dc in (DayCount.THIRTY_360, DayCount.ACT_ACT) for dc in present_dcs)
    civil_e = civil_s = None
    if needs_civil:
        lo_all = int(min(pay.min(), start_adj.min()))
        if lo_all < lo or int(max(pay.max(), start_adj.max())) >= lo + span.size:
            lo, span = (
                lo_all,
                np.arange(lo_all, int(max(pay.max(), start_adj.max())) + 1, dtype=np.int64),
            )
        span_civil = civil_from_days(span)
        civil_e = tuple(t[pay - lo] for t in span_civil)
        civil_0 = tuple(t[start_adj - lo] for t in span_civil)
        civil_s = tuple(np.empty_like(x) for x in civil_e)
        for src, first, dst in zip(civil_e, civil_0, civil_s, strict=True):
            dst[1:] = src[:-1]
            dst[offsets] = first
    if len(present_dcs) == 1:
        yf = year_fractions_days(prev, pay, next(iter(present_dcs)), civil_s, civil_e)
    else:
        parts = [
            year_fractions_days(prev, pay, dc, civil_s, civil_e)
            if dc in present_dcs
            else np.zeros(total)
            for dc in DAY_COUNT_CODES
        ]
        yf = np.choose(np.repeat(dc_code, n_per), parts)
    row_rates = None
    if curve is not None:
        # floating: simple forward of the curve over each accrual period + spread_bp
        spread = (
            loans["spread_bp"].to_numpy(dtype=np.float64)
            if "spread_bp" in loans.columns
            else np.zeros(n_loans)
        )
        if not np.all(np.isfinite(spread)):
            raise ConventionError("The `spread_bp` must be finite basis points.", field="spread_bp")
        uniq, inverse = np.unique(np.concatenate([prev, pay]), return_inverse=True)
        epoch = date(1970, 1, 1)
        df = np.asarray(
            curve.discount_factors([epoch + timedelta(days=int(x)) for x in uniq]), dtype=np.float64
        )
        df_prev, df_pay = df[inverse[:total]], df[inverse[total:]]
        with np.errstate(divide="ignore", invalid="ignore"):
            fwd = np.where(yf > 0, (df_prev / df_pay - 1.0) / yf, 0.0)
        row_rates = fwd + np.repeat(spread, n_per) / 10_000.0
    interest, repaid, closing = amortize_long(
        principal, rate, yf, n_per, offsets, code, 12.0 / freq, row_rates
    )
    if dates_as == "date":
        out_dates = pay.astype("datetime64[D]").astype(object)
    else:
        out_dates = pay.astype("datetime64[D]")
    return {
        "loan_id": np.repeat(loans["loan_id"].to_numpy(), n_per),
        "date": out_dates,
        "interest": interest,
        "principal": repaid,
        "balance": closing,
    }


def _kernel_columns(
    loans: pd.DataFrame,
    start: IntArray,
    n_per: IntArray,
    freq: IntArray,
    tenor: IntArray,
    code: IntArray,
    dc_code: IntArray,
    cal_code: IntArray,
    cal_names: list[str],
    principal: FloatArray,
    rate: FloatArray,
    bdc_name: str,
    dates_as: str,
) -> dict[str, np.ndarray]:
    """`schedule_columns` by the compiled row kernel (fixed-rate loans): one write per row."""
    # every day the book can touch, each adjusted once per calendar (row 0: no calendar)
    lo = int(start.min())
    hi = int((start + tenor * 31).max()) + 8
    span = np.arange(lo, hi, dtype=np.int64)
    table = np.empty((len(cal_names) + 1, span.size), dtype=np.int64)
    table[0] = span
    for j, c in enumerate(cal_names, start=1):
        table[j] = adjustment_table(span, c, bdc_name)
    total = int(n_per.sum())
    pay = np.empty(total, dtype=np.int64)
    interest = np.empty(total)
    repaid = np.empty(total)
    closing = np.empty(total)
    offsets = np.cumsum(n_per) - n_per
    _schedule_kernel.rows(
        start,
        n_per,
        offsets,
        freq,
        code,
        dc_code,
        principal,
        rate,
        cal_code,
        table,
        lo,
        pay,
        interest,
        repaid,
        closing,
    )
    dates = pay.view("datetime64[D]")
    return {
        "loan_id": np.repeat(loans["loan_id"].to_numpy(), n_per),
        "date": dates.astype(object) if dates_as == "date" else dates,
        "interest": interest,
        "principal": repaid,
        "balance": closing,
    }
