"""Loan terms and amortization schedules (annuity, linear, bullet), one loan or many at once.

Date logic (schedule dates, calendars, day counts) is kept apart from the float
kernel `_amortize`, which works on padded ``(n_loans, n_periods)`` arrays, so the
single-loan `schedule` and the vectorised `schedules` run the same arithmetic.

Conventions
-----------
* Payment dates: ``start_date + k * frequency_months`` months (day clipped to the
  month's end, no end-of-month rule; QuantLib ``DateGeneration.Forward``), then moved
  to a business day of ``calendar`` with ``business_day_convention`` (default
  Modified Following). Interest accrues between the adjusted dates, as in QuantLib's
  ``Schedule`` with the same convention for accrual and payment.
* Day counts: ``ACT/360``, ``ACT/365F``, ``30/360`` (bond basis, QuantLib
  ``Thirty360.BondBasis``) and ``ACT/ACT`` (ISDA), as in `valuation.conventions`.
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

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np
import pandas as pd
import QuantLib as ql

from credit import _schedule_kernel
from valuation._typing import BoolArray, FloatArray, IntArray
from valuation.conventions import (
    DayCount,
    add_months,
    calendar,
    from_ql_date,
    parse_date,
    to_ql_date,
)
from valuation.errors import ConventionError

#: Route `schedule_columns` through the numpy path even when the compiled kernel is available
#: (set by the tests that compare the two).
_FORCE_NUMPY = False

#: Payment frequencies accepted, in months: monthly, quarterly, semi-annual, annual.
FREQUENCIES_MONTHS: tuple[int, ...] = (1, 3, 6, 12)


class Amortization(StrEnum):
    """How principal is repaid."""

    ANNUITY = "annuity"
    LINEAR = "linear"
    BULLET = "bullet"

    @classmethod
    def parse(cls, value: object, *, field: str = "amortization") -> Amortization:
        try:
            return cls(value)  # type: ignore[arg-type]  # any value: a non-member raises
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in cls)
            raise ConventionError(
                f"The `{field}` must be one of {allowed}. Got {value!r}.", field=field
            ) from None


_BDC: dict[str, int] = {
    "Following": ql.Following,
    "ModifiedFollowing": ql.ModifiedFollowing,
    "Preceding": ql.Preceding,
    "ModifiedPreceding": ql.ModifiedPreceding,
    "Unadjusted": ql.Unadjusted,
}
BUSINESS_DAY_CONVENTIONS: tuple[str, ...] = tuple(_BDC)


def business_day_convention(name: str, *, field: str = "business_day_convention") -> int:
    return _bdc(name, field=field)


def _bdc(name: str, *, field: str = "business_day_convention") -> int:
    """QuantLib business-day convention for a name in `BUSINESS_DAY_CONVENTIONS`."""
    try:
        return _BDC[name]
    except (KeyError, TypeError):
        raise ConventionError(
            f"The `{field}` must be one of {', '.join(BUSINESS_DAY_CONVENTIONS)}. Got {name!r}.",
            field=field,
        ) from None


class DiscountCurve(Protocol):
    """Anything with ``discount_factors(dates) -> FloatArray`` (e.g. `valuation.market.MarketData`)."""

    def discount_factors(self, dates: Sequence[date]) -> FloatArray: ...


@dataclass(frozen=True, slots=True)
class FloatingRate:
    """Floating coupon: the simple forward rate of ``curve`` over each period plus ``spread_bp``.

    The forward for period ``k`` is ``(DF(d_{k-1}) / DF(d_k) - 1) / yf_k`` with ``yf_k``
    in the loan's day count, so interest = balance x (forward + spread) x yf_k.
    """

    curve: DiscountCurve
    spread_bp: float = 0.0

    def __post_init__(self) -> None:
        if not hasattr(self.curve, "discount_factors"):
            raise ConventionError(
                "The `curve` of `FloatingRate` must have discount_factors(dates).",
                field="annual_rate",
            )
        if not math.isfinite(self.spread_bp) or abs(self.spread_bp) >= 10_000:
            raise ConventionError(
                f"The `spread_bp` of `FloatingRate` must be finite basis points below 10,000. "
                f"Got {self.spread_bp!r}.",
                field="spread_bp",
            )

    def period_rates(self, dates: Sequence[date], year_fractions: FloatArray) -> FloatArray:
        """Annual rates (decimals) per period for schedule dates ``d_0 .. d_n``."""
        df = np.asarray(self.curve.discount_factors(list(dates)), dtype=np.float64)
        fwd = (df[:-1] / df[1:] - 1.0) / year_fractions
        return fwd + self.spread_bp / 10_000.0


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """Terms of one loan, validated.

    Attributes
    ----------
    principal : float
        Amount lent, major currency units, > 0.
    annual_rate : float or FloatingRate
        Fixed annual rate (decimal, in (-1, 1)) or a floating rate.
    start_date : date
        Disbursement date; accrual starts here.
    tenor_months : int
        Months to maturity, a positive multiple of ``frequency_months``.
    amortization : Amortization
    frequency_months : int
        1, 3, 6 or 12.
    day_count : DayCount
    calendar : str or None
        Calendar name (see `valuation.conventions.calendar`), None = no holidays.
    business_day_convention : str
    """

    principal: float
    annual_rate: float | FloatingRate
    start_date: date
    tenor_months: int
    amortization: Amortization
    frequency_months: int = 1
    day_count: DayCount = DayCount.ACT_365F
    calendar: str | None = None
    business_day_convention: str = "ModifiedFollowing"

    def __post_init__(self) -> None:
        if (
            isinstance(self.principal, bool)
            or not isinstance(self.principal, int | float)
            or not math.isfinite(self.principal)
            or self.principal <= 0
        ):
            raise ConventionError(
                f"The `principal` of a loan must be a positive amount. Got {self.principal!r}.",
                field="principal",
            )
        if not isinstance(self.annual_rate, FloatingRate):
            r = self.annual_rate
            if (
                isinstance(r, bool)
                or not isinstance(r, int | float)
                or not math.isfinite(r)
                or abs(r) >= 1.0
            ):
                raise ConventionError(
                    f"The `annual_rate` of a loan must be a decimal in (-1, 1) (0.06 means 6 %). "
                    f"Got {r!r}; was a percentage passed?",
                    field="annual_rate",
                )
        if not isinstance(self.start_date, date):
            raise ConventionError(
                f"The `start_date` of a loan must be a date. Got {self.start_date!r}.",
                field="start_date",
            )
        if self.frequency_months not in FREQUENCIES_MONTHS or isinstance(
            self.frequency_months, bool
        ):
            raise ConventionError(
                f"The `frequency_months` must be one of {FREQUENCIES_MONTHS}. Got {self.frequency_months!r}.",
                field="frequency_months",
            )
        t = self.tenor_months
        if (
            isinstance(t, bool)
            or not isinstance(t, int | np.integer)
            or t <= 0
            or t % self.frequency_months
        ):
            raise ConventionError(
                f"The `tenor_months` must be a positive whole multiple of frequency_months "
                f"({self.frequency_months}). Got {t!r}.",
                field="tenor_months",
            )
        if t > 600:
            raise ConventionError(
                f"The `tenor_months` must be at most 600. Got {t!r}.", field="tenor_months"
            )
        calendar(self.calendar)  # validates the name
        business_day_convention(self.business_day_convention)

    @property
    def n_periods(self) -> int:
        return int(self.tenor_months) // int(self.frequency_months)

    @property
    def maturity_date(self) -> date:
        return self.dates()[-1]

    def dates(self) -> list[date]:
        """Adjusted schedule dates ``d_0 (start) .. d_n (maturity)``."""
        cal = calendar(self.calendar)
        bdc = business_day_convention(self.business_day_convention)
        out = []
        for k in range(self.n_periods + 1):
            d = add_months(self.start_date, k * self.frequency_months)
            out.append(from_ql_date(cal.adjust(to_ql_date(d), bdc)))
        return out


# ----------------------------------------------------------------------------- day counts


def _days_from_civil(y: IntArray, m: IntArray, d: IntArray) -> IntArray:
    """Days since 1970-01-01 of proleptic Gregorian (y, m, d), vectorised (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468, dtype=np.int64)


def _civil_from_days(z: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(year, month, day) of days since 1970-01-01, vectorised (inverse of `_days_from_civil`)."""
    z = z + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return y + (m <= 2), m, d


_MONTH_LEN = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_DC_ORDER = (DayCount.ACT_360, DayCount.ACT_365F, DayCount.THIRTY_360, DayCount.ACT_ACT)


def _is_leap(y: IntArray) -> BoolArray:
    return np.asarray(((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0), dtype=np.bool_)


def _year_fractions_days(
    s: IntArray,
    e: IntArray,
    day_count: DayCount,
    civil_s: tuple[IntArray, IntArray, IntArray] | None = None,
    civil_e: tuple[IntArray, IntArray, IntArray] | None = None,
) -> FloatArray:
    days = (e - s).astype(np.float64)
    if day_count is DayCount.ACT_360:
        return days / 360.0
    if day_count is DayCount.ACT_365F:
        return days / 365.0
    y1, m1, d1 = civil_s if civil_s is not None else _civil_from_days(s)
    y2, m2, d2 = civil_e if civil_e is not None else _civil_from_days(e)
    if day_count is DayCount.THIRTY_360:
        d1 = np.where(d1 == 31, 30, d1)
        d2 = np.where((d2 == 31) & (d1 >= 30), 30, d2)
        return np.asarray(
            (360.0 * (y2 - y1) + 30.0 * (m2 - m1) + (d2 - d1)) / 360.0, dtype=np.float64
        )
    # ACT/ACT ISDA: the days falling in each calendar year over that year's length
    # (year lengths and 1 January by lookup in small per-year tables)
    y_lo = int(y1.min())
    years = np.arange(y_lo, int(y2.max()) + 2, dtype=np.int64)
    year_len = np.where(_is_leap(years), 366.0, 365.0)
    jan1 = _days_from_civil(years, np.ones_like(years), np.ones_like(years))
    i1 = y1 - y_lo
    i2 = y2 - y_lo
    len1 = year_len[i1]
    same = i1 == i2
    if same.all():
        return np.asarray(days / len1, dtype=np.float64)
    split = (jan1[i1 + 1] - s) / len1 + (i2 - i1 - 1) + (e - jan1[i2]) / year_len[i2]
    return np.asarray(np.where(same, days / len1, split), dtype=np.float64)


def year_fractions(start: np.ndarray, end: np.ndarray, day_count: DayCount) -> FloatArray:
    """Vectorised year fractions between ``datetime64[D]`` arrays (QuantLib's definitions).

    ``30/360`` is the bond basis: ``d1 = min(d1, 30)``; ``d2 = 30`` when ``d2 = 31`` and
    ``d1 >= 30``. ``ACT/ACT`` is ISDA: days in each calendar year over that year's length.
    """
    s = np.asarray(start, dtype="datetime64[D]").astype(np.int64)
    e = np.asarray(end, dtype="datetime64[D]").astype(np.int64)
    return _year_fractions_days(s, e, DayCount.parse(day_count))


# ----------------------------------------------------------------------------- kernel


_AMORT_CODE = {Amortization.ANNUITY: 0, Amortization.LINEAR: 1, Amortization.BULLET: 2}


def _amortize(
    principal: FloatArray,
    rates: FloatArray,
    yf: FloatArray,
    n_periods: IntArray,
    code: IntArray,
    periods_per_year: FloatArray,
    reset_level: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Interest, principal and closing balance on padded arrays ``(n_loans, max_periods)``.

    ``rates`` and ``yf`` are per period (annual decimal rate, accrual year fraction);
    entries beyond a loan's ``n_periods`` are ignored and returned as zero. The annuity
    level payment is fixed at the start from the first period's rate, or recomputed every
    period from the balance, the period's rate and the periods left when ``reset_level``
    (floating rates).
    """
    n_loans, width = yf.shape
    interest = np.zeros((n_loans, width))
    repaid = np.zeros((n_loans, width))
    closing = np.zeros((n_loans, width))
    balance = principal.astype(np.float64).copy()
    linear_step = principal / n_periods
    annuity = code == 0
    linear = code == 1
    for k in range(width):
        active = n_periods > k
        if not active.any():
            break
        last = n_periods == k + 1
        r = rates[:, k]
        inte = balance * r * yf[:, k]
        remaining = np.maximum(n_periods - k, 1)
        if k == 0 or reset_level:
            rp = r / periods_per_year
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                level = np.where(
                    np.abs(rp) > 1e-15,
                    balance * rp / -np.expm1(-remaining * np.log1p(rp)),
                    balance / remaining,
                )
        prin = np.where(annuity, level - inte, np.where(linear, linear_step, 0.0))
        prin = np.where(last, balance, prin)
        prin = np.where(active, prin, 0.0)
        inte = np.where(active, inte, 0.0)
        balance = np.where(active, balance - prin, balance)
        balance = np.where(last, 0.0, balance)
        interest[:, k] = inte
        repaid[:, k] = prin
        closing[:, k] = np.where(active, balance, 0.0)
    return interest, repaid, closing


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
    interest, repaid, closing = _amortize(
        np.array([float(terms.principal)]),
        rates.reshape(1, n),
        yf.reshape(1, n),
        np.array([n]),
        np.array([_AMORT_CODE[terms.amortization]]),
        np.array([12.0 / terms.frequency_months]),
        reset_level=isinstance(terms.annual_rate, FloatingRate),
    )
    return pd.DataFrame(
        {"date": dates[1:], "interest": interest[0], "principal": repaid[0], "balance": closing[0]}
    )


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


@functools.lru_cache(maxsize=64)
def _adjusted_years(
    cal_name: str, bdc_name: str, year_lo: int, year_hi: int
) -> tuple[int, IntArray]:
    """Every day of the years ``year_lo..year_hi`` moved to a business day (days since
    1970-01-01), computed through QuantLib once per calendar, convention and years."""
    lo = int(_days_from_civil(np.array([year_lo]), np.array([1]), np.array([1]))[0])
    hi = int(_days_from_civil(np.array([year_hi + 1]), np.array([1]), np.array([1]))[0])
    table = _adjust_days(np.arange(lo, hi, dtype=np.int64), cal_name, bdc_name)
    table.setflags(write=False)
    return lo, table


def _adjustment_table(span: IntArray, cal_name: str, bdc_name: str) -> IntArray:
    """`_adjust_days` of a contiguous range of days, from the per-year cache."""
    y_lo = int(_civil_from_days(span[:1])[0][0])
    y_hi = (
        int(_civil_from_days(span[-1:])[0][0]) + 1
    )  # a following business day may fall in January
    lo, table = _adjusted_years(cal_name, bdc_name, y_lo, y_hi)
    return table[span[0] - lo : span[-1] - lo + 1]


def _adjust_days(days: IntArray, cal_name: str | None, bdc_name: str) -> IntArray:
    """Move dates (days since 1970-01-01) to business days; each distinct date goes through QuantLib once."""
    if cal_name in (None, "NullCalendar") or bdc_name == "Unadjusted":
        return days
    cal = calendar(cal_name)
    bdc = _bdc(bdc_name)
    uniq, inverse = np.unique(days, return_inverse=True)
    y, m, d = _civil_from_days(uniq)
    base = ql.Date(1, 1, 1970).serialNumber()
    adjusted = np.array(
        [
            cal.adjust(ql.Date(int(dd), int(mm), int(yy)), bdc).serialNumber() - base
            for yy, mm, dd in zip(y.tolist(), m.tolist(), d.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    return adjusted[inverse.reshape(days.shape)]


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
    """The rows of `schedules` as a dict of numpy arrays, for callers that do not need pandas.

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
    code = np.array([_AMORT_CODE[Amortization.parse(v)] for v in amort_values], dtype=np.int64)[
        amort_codes
    ]
    dc_codes, dc_values = pd.factorize(loans["day_count"], use_na_sentinel=True)
    if (dc_codes < 0).any():
        DayCount.parse(None)
    dc_parsed = [DayCount.parse(v) for v in dc_values]
    dc_code = np.array([_DC_ORDER.index(dc) for dc in dc_parsed], dtype=np.int64)[dc_codes]
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
    _bdc(business_day_convention)
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
    y0, m0, d0 = _civil_from_days(start)
    months = np.repeat(y0 * 12 + m0 - 1, n_per) + k * np.repeat(freq, n_per)
    yy, mm0 = np.divmod(months, 12)
    mm = mm0 + 1
    month_len = _MONTH_LEN[mm0] + ((mm == 2) & _is_leap(yy))
    m_lo = int(months.min())
    month_index = np.arange(m_lo, int(months.max()) + 1, dtype=np.int64)
    ty, tm = np.divmod(month_index, 12)
    month_start = _days_from_civil(ty, tm + 1, np.ones_like(ty))
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
            table[j] = _adjust_days(span, c, business_day_convention)
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
        span_civil = _civil_from_days(span)
        civil_e = tuple(t[pay - lo] for t in span_civil)
        civil_0 = tuple(t[start_adj - lo] for t in span_civil)
        civil_s = tuple(np.empty_like(x) for x in civil_e)
        for src, first, dst in zip(civil_e, civil_0, civil_s, strict=True):
            dst[1:] = src[:-1]
            dst[offsets] = first
    if len(present_dcs) == 1:
        yf = _year_fractions_days(prev, pay, next(iter(present_dcs)), civil_s, civil_e)
    else:
        parts = [
            _year_fractions_days(prev, pay, dc, civil_s, civil_e)
            if dc in present_dcs
            else np.zeros(total)
            for dc in _DC_ORDER
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
    interest, repaid, closing = _amortize_long(
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
        table[j] = _adjustment_table(span, c, bdc_name)
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


def _amortize_long(
    principal: FloatArray,
    rate: FloatArray,
    yf: FloatArray,
    n_per: IntArray,
    offsets: IntArray,
    code: IntArray,
    periods_per_year: FloatArray,
    row_rates: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Kernel on ragged rows; the same arithmetic as `_amortize`, row for row.

    ``rate`` is one fixed rate per loan; ``row_rates`` (floating loans) one rate per row,
    with the annuity level payment recomputed every period (``reset_level`` in `_amortize`).
    """
    total = yf.size
    interest = np.empty(total)
    repaid = np.empty(total)
    closing = np.empty(total)
    order = np.argsort(-n_per, kind="stable")
    n_sorted = n_per[order]
    off = offsets[order]
    bal = principal[order].astype(np.float64)
    r = rate[order]
    ppy = periods_per_year[order]
    cd = code[order]
    n_f = n_sorted.astype(np.float64)

    def level_payment(
        b: FloatArray, rr: FloatArray, per_year: FloatArray, left: FloatArray
    ) -> FloatArray:
        rp = rr / per_year
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.where(np.abs(rp) > 1e-15, b * rp / -np.expm1(-left * np.log1p(rp)), b / left)

    level = level_payment(bal, r if row_rates is None else row_rates[off], ppy, n_f)
    step = np.where(cd == 0, 0.0, np.where(cd == 1, bal / n_f, 0.0))
    annuity = cd == 0
    alive_counts = np.searchsorted(-n_sorted, -np.arange(int(n_sorted[0])), side="left")
    for kk in range(int(n_sorted[0])):
        m = int(alive_counts[kk])
        rows = off[:m] + kk
        b = bal[:m]
        if row_rates is None:
            rr = r[:m]
        else:
            rr = row_rates[rows]
            if kk > 0:
                level[:m] = level_payment(b, rr, ppy[:m], n_f[:m] - kk)
        inte = b * rr * yf[rows]
        prin = np.where(annuity[:m], level[:m] - inte, step[:m])
        last = n_sorted[:m] == kk + 1
        prin = np.where(last, b, prin)
        b = np.where(last, 0.0, b - prin)
        bal[:m] = b
        interest[rows] = inte
        repaid[rows] = prin
        closing[rows] = b
    return interest, repaid, closing
