"""The collateral pool of a securitization: loans, receivables and the pool's terms.

Loans (`PoolLoan`: balance, rate, term, amortisation, frequency, PD, recovery) and
receivables (`Receivable`: a cash-flow vector, PD, recovery), with the pool's cut-off date,
prepayment rate, recovery lag and appraised value (`Pool`). Each validates itself; every
error is a `ConventionError` whose ``field`` is the dotted path of the offending input.

Units: balances in major currency units; rates, PDs and recoveries as decimals; periods in
months.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from credit.terms import FREQUENCIES_MONTHS, MAX_TENOR_MONTHS
from credit.terms import Amortization as LoanAmortization
from valuation.conventions import DayCount, calendar
from valuation.errors import ConventionError, ValuationError

Amortization = Literal["annuity", "linear", "bullet"]

AMORTIZATIONS: tuple[str, ...] = tuple(m.value for m in LoanAmortization)

#: The longest loan tenor and the longest receivable schedule, in months.
MAX_TERM_MONTHS = MAX_TENOR_MONTHS


def _fail(message: str, path: str) -> ConventionError:
    return ConventionError(message, field=path)


def _number(
    value: object,
    path: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    what: str = "a number",
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"The `{path}` must be {what}. Got {value!r}.", path)
    v = float(value)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        bound = f"> {lo}" if lo_open else f">= {lo}"
        raise _fail(f"The `{path}` must be {bound}. Got {value!r}.", path)
    if hi is not None and v > hi:
        raise _fail(f"The `{path}` must be <= {hi}. Got {value!r}.", path)
    return v


def _integer(value: object, path: str, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(f"The `{path}` must be an integer in [{lo}, {hi}]. Got {value!r}.", path)
    return int(value)


def _choice(value: object, path: str, options: Sequence[str]) -> str:
    if value not in options:
        raise _fail(
            f"The `{path}` must be one of {', '.join(map(repr, options))}. Got {value!r}.", path
        )
    return str(value)


# ---------------------------------------------------------------------------------------------
# pool
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolLoan:
    """One loan in the pool.

    Parameters
    ----------
    loan_id : str
        Identifier (the loan book's id).
    balance : float
        Outstanding principal at closing, major units, > 0.
    annual_rate : float
        Fixed contractual rate, decimal, paid monthly on the outstanding balance (rate / 12).
    tenor_months : int
        Remaining term in months, 1..600.
    amortization : {"annuity", "linear", "bullet"}
        Repayment profile.
    pd : float
        Annual probability of default, decimal in [0, 1); the hazard is ``-ln(1 - pd)``.
    recovery_rate : float
        Recovered share of the defaulted balance, decimal 0..1.
    start_date : date or None
        A booked loan: its disbursement date. ``balance`` is then the principal lent on that
        date and ``tenor_months`` the tenor from it; the loan's own schedule
        (`credit.loans.schedules`: its frequency, day count, calendar, amortisation) gives
        its payments, and it enters the pool at its outstanding balance at the pool's
        ``cut_off_date``, collecting only the payments after it. ``None``: the loan starts at
        the cut-off (if the pool has one, on that schedule too) or, without a cut-off date,
        pays monthly ``rate / 12`` on its balance from month 1.
    frequency_months : {1, 3, 6, 12}
        Payment frequency (a multiple of it must make ``tenor_months``).
    day_count : str
        Interest day count of the schedule (``ACT/365F``, ``ACT/360``, ``30/360``, ``ACT/ACT``).
    calendar : str or None
        Business-day calendar of the payment dates (Modified Following), None = none.
    """

    loan_id: str
    balance: float
    annual_rate: float
    tenor_months: int
    amortization: Amortization = "annuity"
    pd: float = 0.02
    recovery_rate: float = 0.4
    start_date: date | None = None
    frequency_months: int = 1
    day_count: str = "ACT/365F"
    calendar: str | None = None

    def __post_init__(self) -> None:
        _check_loan(self, "loan")


def _check_loan(loan: PoolLoan, path: str) -> None:
    if not isinstance(loan.loan_id, str) or not loan.loan_id:
        raise _fail(
            f"The `{path}.loan_id` must be a non-empty string. Got {loan.loan_id!r}.",
            f"{path}.loan_id",
        )
    _number(loan.balance, f"{path}.balance", lo=0.0, lo_open=True, what="a positive amount")
    _number(loan.annual_rate, f"{path}.annual_rate", lo=0.0, hi=1.0, what="a decimal rate")
    _integer(loan.tenor_months, f"{path}.tenor_months", lo=1, hi=MAX_TERM_MONTHS)
    _choice(loan.amortization, f"{path}.amortization", AMORTIZATIONS)
    pd = _number(loan.pd, f"{path}.pd", lo=0.0, what="a decimal probability")
    if pd >= 1.0:
        raise _fail(f"The `{path}.pd` must be below 1. Got {pd!r}.", f"{path}.pd")
    _number(loan.recovery_rate, f"{path}.recovery_rate", lo=0.0, hi=1.0, what="a decimal share")
    if loan.start_date is not None and not isinstance(loan.start_date, date):
        raise _fail(
            f"The `{path}.start_date` must be a date. Got {loan.start_date!r}.",
            f"{path}.start_date",
        )
    freq = _integer(loan.frequency_months, f"{path}.frequency_months", lo=1, hi=12)
    if freq not in FREQUENCIES_MONTHS:
        raise _fail(
            f"The `{path}.frequency_months` must be one of {FREQUENCIES_MONTHS}. Got {freq!r}.",
            f"{path}.frequency_months",
        )
    if loan.tenor_months % freq:
        raise _fail(
            f"The `{path}.tenor_months` must be a whole number of payment periods "
            f"({freq} months). Got {loan.tenor_months!r}.",
            f"{path}.tenor_months",
        )
    try:
        DayCount.parse(loan.day_count)
    except ValuationError:
        raise _fail(
            f"The `{path}.day_count` must be one of "
            f"{', '.join(repr(d.value) for d in DayCount)}. Got {loan.day_count!r}.",
            f"{path}.day_count",
        ) from None
    if loan.calendar is not None:
        try:
            calendar(loan.calendar)
        except ValuationError:
            raise _fail(
                f"The `{path}.calendar` must name a known calendar. Got {loan.calendar!r}.",
                f"{path}.calendar",
            ) from None


@dataclass(frozen=True, slots=True)
class Receivable:
    """A data-licence receivable: projected monthly collections from one obligor.

    The receivable is carried at the present value of its projected collections at the
    pool's ``discount_rate`` (monthly compounding); each collection splits into interest
    (balance x rate / 12) and principal, so a receivable behaves like a loan with a custom
    repayment profile.

    Parameters
    ----------
    receivable_id : str
        Identifier.
    cashflows : tuple of float
        Projected collections for months 1, 2, ... (major units, each >= 0, at least one > 0).
    pd : float
        Annual obligor PD, decimal in [0, 1).
    recovery_rate : float
        Recovered share of the outstanding balance on default, decimal 0..1.
    """

    receivable_id: str
    cashflows: tuple[float, ...]
    pd: float = 0.02
    recovery_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_receivable(self, "receivable")


def _check_receivable(rec: Receivable, path: str) -> None:
    if not isinstance(rec.receivable_id, str) or not rec.receivable_id:
        raise _fail(
            f"The `{path}.receivable_id` must be a non-empty string.", f"{path}.receivable_id"
        )
    if not isinstance(rec.cashflows, tuple) or not 1 <= len(rec.cashflows) <= MAX_TERM_MONTHS:
        raise _fail(
            f"The `{path}.cashflows` must list 1..{MAX_TERM_MONTHS} monthly amounts.",
            f"{path}.cashflows",
        )
    for j, c in enumerate(rec.cashflows):
        _number(c, f"{path}.cashflows[{j}]", lo=0.0, what="a non-negative amount")
    if not any(c > 0 for c in rec.cashflows):
        raise _fail(f"The `{path}.cashflows` must contain a positive amount.", f"{path}.cashflows")
    pd = _number(rec.pd, f"{path}.pd", lo=0.0, what="a decimal probability")
    if pd >= 1.0:
        raise _fail(f"The `{path}.pd` must be below 1. Got {pd!r}.", f"{path}.pd")
    _number(rec.recovery_rate, f"{path}.recovery_rate", lo=0.0, hi=1.0, what="a decimal share")


@dataclass(frozen=True, slots=True)
class Pool:
    """The collateral: loans and/or receivables, with pool-wide behaviour.

    Parameters
    ----------
    loans, receivables : tuple
        The assets; at least one in total, ids unique.
    discount_rate : float
        Annual rate (decimal, monthly compounding) carrying receivables at present value.
    prepayment_rate : float
        Constant annual prepayment rate (CPR), decimal in [0, 1).
    recovery_lag_months : int
        Months between a default and its recovery, 0..120.
    collateral_value : float or None
        Appraised value of the collateral for the borrowing base (e.g. a catalogue or data
        product valuation); ``None`` means the pool balance.
    cut_off_date : date or None
        The date the loans are pooled at: month ``m`` of the deal is ``(cut_off + m - 1
        months, cut_off + m months]``, each loan enters at its outstanding balance after its
        last payment on or before the cut-off and collects its scheduled payments in the
        months they fall in. Required when a loan has a ``start_date``.
    """

    loans: tuple[PoolLoan, ...] = ()
    receivables: tuple[Receivable, ...] = ()
    discount_rate: float = 0.0
    prepayment_rate: float = 0.0
    recovery_lag_months: int = 0
    collateral_value: float | None = None
    cut_off_date: date | None = None

    def __post_init__(self) -> None:
        if not self.loans and not self.receivables:
            raise _fail("The `pool` must hold at least one loan or receivable.", "pool")
        seen: set[str] = set()
        for i, loan in enumerate(self.loans):
            _check_loan(loan, f"pool.loans[{i}]")
            if loan.loan_id in seen:
                raise _fail(
                    f"The `pool.loans[{i}].loan_id` must be unique. Got {loan.loan_id!r} twice.",
                    f"pool.loans[{i}].loan_id",
                )
            seen.add(loan.loan_id)
        for i, rec in enumerate(self.receivables):
            _check_receivable(rec, f"pool.receivables[{i}]")
            if rec.receivable_id in seen:
                raise _fail(
                    f"The `pool.receivables[{i}].receivable_id` must be unique.",
                    f"pool.receivables[{i}].receivable_id",
                )
            seen.add(rec.receivable_id)
        _number(self.discount_rate, "pool.discount_rate", lo=0.0, hi=1.0, what="a decimal rate")
        cpr = _number(self.prepayment_rate, "pool.prepayment_rate", lo=0.0, what="a decimal rate")
        if cpr >= 1.0:
            raise _fail(
                f"The `pool.prepayment_rate` must be below 1. Got {cpr!r}.", "pool.prepayment_rate"
            )
        _integer(self.recovery_lag_months, "pool.recovery_lag_months", lo=0, hi=120)
        if self.collateral_value is not None:
            _number(
                self.collateral_value,
                "pool.collateral_value",
                lo=0.0,
                lo_open=True,
                what="a positive amount",
            )
        if self.cut_off_date is not None and not isinstance(self.cut_off_date, date):
            raise _fail(
                f"The `pool.cut_off_date` must be a date. Got {self.cut_off_date!r}.",
                "pool.cut_off_date",
            )
        for i, loan in enumerate(self.loans):
            if loan.start_date is None:
                if self.cut_off_date is None and loan.frequency_months != 1:
                    raise _fail(
                        f"The `pool.loans[{i}].frequency_months` other than monthly needs "
                        "a `start_date` or the pool's `cut_off_date`.",
                        f"pool.loans[{i}].frequency_months",
                    )
                continue
            if self.cut_off_date is None:
                raise _fail(
                    f"The `pool.cut_off_date` is required: loan {loan.loan_id!r} has a "
                    "start date, and it enters the pool at its balance on the cut-off "
                    "date.",
                    "pool.cut_off_date",
                )
            if loan.start_date > self.cut_off_date:
                raise _fail(
                    f"The `pool.loans[{i}].start_date` must be on or before the cut-off "
                    f"date {self.cut_off_date.isoformat()}. Got "
                    f"{loan.start_date.isoformat()}.",
                    f"pool.loans[{i}].start_date",
                )

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the ids of the pool's assets (loans, then receivables)."""
        return tuple(x.loan_id for x in self.loans) + tuple(
            r.receivable_id for r in self.receivables
        )
