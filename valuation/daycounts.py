"""Vectorised date arithmetic: days since 1970-01-01 and year fractions over arrays of dates.

The array twin of `valuation.conventions` (whose `year_fraction` is QuantLib's, one pair of
dates at a time): the same definitions, tested equal to it, for kernels that handle
millions of dates (loan schedules, pools). Day numbers are proleptic Gregorian days since
1970-01-01 (numpy's ``datetime64[D]`` as integers).

* ``30/360`` is the bond basis (QuantLib ``Thirty360.BondBasis``): ``d1 = min(d1, 30)``;
  ``d2 = 30`` when ``d2 = 31`` and ``d1 >= 30``.
* ``ACT/ACT`` is ISDA: the days falling in each calendar year over that year's length.

References
----------
Hinnant, H., *chrono-Compatible Low-Level Date Algorithms* (days from civil and back).
* Business days: `adjust_days` moves day numbers to business days of a QuantLib
  calendar with a convention (`valuation.conventions.business_day_convention`). QuantLib
  adjusts one date at a time, so each calendar year is adjusted once and cached; every
  date is then a table lookup.
"""

from __future__ import annotations

import functools

import numpy as np
import QuantLib as ql

from valuation._typing import BoolArray, FloatArray, IntArray
from valuation.conventions import DayCount, calendar
from valuation.conventions import business_day_convention as ql_business_day_convention


def days_from_civil(y: IntArray, m: IntArray, d: IntArray) -> IntArray:
    """Days since 1970-01-01 of proleptic Gregorian (y, m, d), vectorised (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468, dtype=np.int64)


def civil_from_days(z: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(year, month, day) of days since 1970-01-01, vectorised (inverse of `days_from_civil`)."""
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


MONTH_LENGTHS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


DAY_COUNT_CODES = (DayCount.ACT_360, DayCount.ACT_365F, DayCount.THIRTY_360, DayCount.ACT_ACT)


def is_leap(y: IntArray) -> BoolArray:
    """Tell which years are leap years (proleptic Gregorian)."""
    return np.asarray(((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0), dtype=np.bool_)


def year_fractions_days(
    s: IntArray,
    e: IntArray,
    day_count: DayCount,
    civil_s: tuple[IntArray, IntArray, IntArray] | None = None,
    civil_e: tuple[IntArray, IntArray, IntArray] | None = None,
) -> FloatArray:
    """Return the year fractions between day numbers ``s`` and ``e`` under ``day_count``."""
    days = (e - s).astype(np.float64)
    if day_count is DayCount.ACT_360:
        return days / 360.0
    if day_count is DayCount.ACT_365F:
        return days / 365.0
    y1, m1, d1 = civil_s if civil_s is not None else civil_from_days(s)
    y2, m2, d2 = civil_e if civil_e is not None else civil_from_days(e)
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
    year_len = np.where(is_leap(years), 366.0, 365.0)
    jan1 = days_from_civil(years, np.ones_like(years), np.ones_like(years))
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
    return year_fractions_days(s, e, DayCount.parse(day_count))


@functools.lru_cache(maxsize=64)
def adjusted_years(
    cal_name: str, bdc_name: str, year_lo: int, year_hi: int
) -> tuple[int, IntArray]:
    """Move every day of the years ``year_lo..year_hi`` to a business day, once (cached).

    Days since 1970-01-01, computed through QuantLib once per calendar, convention and
    years.
    """
    lo = int(days_from_civil(np.array([year_lo]), np.array([1]), np.array([1]))[0])
    hi = int(days_from_civil(np.array([year_hi + 1]), np.array([1]), np.array([1]))[0])
    table = adjust_days(np.arange(lo, hi, dtype=np.int64), cal_name, bdc_name)
    table.setflags(write=False)
    return lo, table


def adjustment_table(span: IntArray, cal_name: str, bdc_name: str) -> IntArray:
    """`adjust_days` of a contiguous range of days, from the per-year cache."""
    y_lo = int(civil_from_days(span[:1])[0][0])
    y_hi = int(civil_from_days(span[-1:])[0][0]) + 1  # a following business day may fall in January
    lo, table = adjusted_years(cal_name, bdc_name, y_lo, y_hi)
    return table[span[0] - lo : span[-1] - lo + 1]


def adjust_days(days: IntArray, cal_name: str | None, bdc_name: str) -> IntArray:
    """Move dates (days since 1970-01-01) to business days; each distinct date goes through QuantLib once."""
    if cal_name in (None, "NullCalendar") or bdc_name == "Unadjusted":
        return days
    cal = calendar(cal_name)
    bdc = ql_business_day_convention(bdc_name)
    uniq, inverse = np.unique(days, return_inverse=True)
    y, m, d = civil_from_days(uniq)
    base = ql.Date(1, 1, 1970).serialNumber()
    adjusted = np.array(
        [
            cal.adjust(ql.Date(int(dd), int(mm), int(yy)), bdc).serialNumber() - base
            for yy, mm, dd in zip(y.tolist(), m.tolist(), d.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    return adjusted[inverse.reshape(days.shape)]
