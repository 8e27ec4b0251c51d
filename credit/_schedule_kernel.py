"""Compiled row kernel of `credit.loans.schedule_columns`: one pass over every payment row.

The numpy path of `credit.loans.schedule_columns` builds each column with whole-array
operations (payment dates, business-day adjustment, year fractions, then the balance
recursion over the period index): correct and portable, but every step writes a temporary
the size of the book, so a 3.6 M-row book moves several gigabytes through memory. This
kernel computes a loan's dates, year fractions and cash flows period by period and writes
each output row once, which is as close to the cost of writing the rows as Python gets.

It is compiled with numba when numba is installed (`AVAILABLE`); without numba the numpy
path runs instead. The two are tested equal row for row
(``tests/credit/test_credit_schedule_kernel.py``). Fixed-rate loans only: floating loans
(a curve) take the numpy path.

The arithmetic is the one documented in `credit.loans`: payment dates ``start + k x
frequency`` months with the day clipped to the month's end, moved to a business day by
the calendar's lookup table; 30/360 bond basis and ACT/ACT ISDA as QuantLib defines them;
the annuity's level payment from the periodic rate, interest by the day count on the
opening balance, the final payment clearing the balance.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from credit._jit import PARALLEL_LOCK

#: numba is a declared dependency; without it (a platform with no wheel) the numpy path runs.
#: It is imported on the first schedule, not with the package, so that importing `credit`
#: (and starting the CLI) stays fast.
AVAILABLE = importlib.util.find_spec("numba") is not None

#: Day-count codes of the kernel (the order of `valuation.daycounts.DAY_COUNT_CODES`).
ACT_360, ACT_365F, THIRTY_360, ACT_ACT = 0, 1, 2, 3


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= 1 if m <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def _is_leap(y: int) -> bool:
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


def _month_length(y: int, m: int) -> int:
    if m == 2:
        return 29 if _is_leap(y) else 28
    if m in (4, 6, 9, 11):
        return 30
    return 31


def _year_fraction(
    s: int, y1: int, m1: int, d1: int, e: int, y2: int, m2: int, d2: int, dc: int
) -> float:
    """Year fraction from day ``s`` = (y1, m1, d1) to day ``e`` = (y2, m2, d2).

    The civil dates are given, so that the row loop never converts days back to dates.
    """
    days = float(e - s)
    if dc == ACT_360:
        return days / 360.0
    if dc == ACT_365F:
        return days / 365.0
    if dc == THIRTY_360:
        if d1 == 31:
            d1 = 30
        if d2 == 31 and d1 >= 30:
            d2 = 30
        return (360.0 * (y2 - y1) + 30.0 * (m2 - m1) + (d2 - d1)) / 360.0
    len1 = 366.0 if _is_leap(y1) else 365.0
    if y1 == y2:
        return days / len1
    len2 = 366.0 if _is_leap(y2) else 365.0
    return (
        (_days_from_civil(y1 + 1, 1, 1) - s) / len1
        + (y2 - y1 - 1)
        + (e - _days_from_civil(y2, 1, 1)) / len2
    )


def _rows(
    start: np.ndarray,
    n_per: np.ndarray,
    offsets: np.ndarray,
    freq: np.ndarray,
    code: np.ndarray,
    dc: np.ndarray,
    principal: np.ndarray,
    rate: np.ndarray,
    cal_code: np.ndarray,
    cal_table: np.ndarray,
    table_lo: int,
    pay_out: np.ndarray,
    interest_out: np.ndarray,
    repaid_out: np.ndarray,
    balance_out: np.ndarray,
) -> None:
    """Fill the output rows of every loan, loans spread over the cores.

    Fill the output rows of every loan (rows laid out loan by loan, in input order, loan ``i`` from
    row ``offsets[i]``). Loans are independent, so they are spread over the cores.
    """
    for i in _prange(start.size):
        row = offsets[i]
        n = n_per[i]
        f = freq[i]
        y0, m0, d0 = _civil_from_days(start[i])
        base_month = y0 * 12 + m0 - 1
        cal = cal_code[i]
        prev = cal_table[cal, start[i] - table_lo]
        py, pm, pd_ = _civil_from_days(prev) if prev != start[i] else (y0, m0, d0)
        bal = principal[i]
        r = rate[i]
        rp = r / (12.0 / f)  # as the numpy path: the rate over periods per year
        level = bal * rp / -np.expm1(-n * np.log1p(rp)) if abs(rp) > 1e-15 else bal / n
        step = bal / n if code[i] == 1 else 0.0
        for k in range(1, n + 1):
            months = base_month + k * f
            yy = months // 12
            mm = months - yy * 12 + 1
            ml = _month_length(yy, mm)
            dd = d0 if d0 < ml else ml
            unadjusted = _days_from_civil(yy, mm, dd)
            pay = cal_table[cal, unadjusted - table_lo]
            if pay != unadjusted:  # moved to a business day: its civil date differs
                yy, mm, dd = _civil_from_days(pay)
            inte = bal * r * _year_fraction(prev, py, pm, pd_, pay, yy, mm, dd, dc[i])
            if k == n:
                prin = bal
                bal = 0.0
            else:
                prin = level - inte if code[i] == 0 else step
                bal = bal - prin
            pay_out[row] = pay
            interest_out[row] = inte
            repaid_out[row] = prin
            balance_out[row] = bal
            prev, py, pm, pd_ = pay, yy, mm, dd
            row += 1


_prange = range  # numba.prange once compiled
_compiled: Callable[..., None] | None = None


def rows(*args: Any) -> None:
    """`_rows` compiled by numba (compiled on the first call; the machine code is cached on disk)."""
    global _compiled
    with PARALLEL_LOCK:
        if _compiled is None:
            from numba import njit, prange

            jit = njit(cache=True, nogil=True)
            g = globals()
            for name in (
                "_days_from_civil",
                "_civil_from_days",
                "_is_leap",
                "_month_length",
                "_year_fraction",
            ):
                g[name] = jit(g[name])
            g["_prange"] = prange
            _compiled = njit(cache=True, nogil=True, parallel=True)(_rows)
        _compiled(*args)
