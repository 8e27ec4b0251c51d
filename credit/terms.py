"""The terms of a loan: amortisation, payment frequency, fixed or floating rate, validated.

`LoanTerms` holds one loan's contract (principal, rate, start, tenor, amortisation,
frequency, day count, calendar, business-day convention) and checks it; `FloatingRate`
makes its rate the curve's forward plus a spread. The schedules built from terms are in
`credit.loans`.

Rates are decimals (0.06 is 6 %); spreads are in basis points (``spread_bp``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

import numpy as np

from valuation._typing import FloatArray
from valuation.conventions import (
    DayCount,
    add_months,
    business_day_convention,
    calendar,
    from_ql_date,
    parse_choice,
    to_ql_date,
)
from valuation.errors import ConventionError

#: Payment frequencies accepted, in months: monthly, quarterly, semi-annual, annual.
FREQUENCIES_MONTHS: tuple[int, ...] = (1, 3, 6, 12)

#: The longest tenor a loan may have, in months (50 years).
MAX_TENOR_MONTHS = 600


class Amortization(StrEnum):
    """How principal is repaid."""

    ANNUITY = "annuity"
    LINEAR = "linear"
    BULLET = "bullet"

    @classmethod
    def parse(cls, value: object, *, field: str = "amortization") -> Amortization:
        """Parse an amortisation name; an unknown one is an error naming ``field``."""
        return parse_choice(cls, value, field=field)


class DiscountCurve(Protocol):
    """Anything with ``discount_factors(dates) -> FloatArray`` (e.g. `valuation.market.MarketData`)."""

    def discount_factors(self, dates: Sequence[date]) -> FloatArray:
        """Return the discount factors at ``dates``."""
        ...


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
        if t > MAX_TENOR_MONTHS:
            raise ConventionError(
                f"The `tenor_months` must be at most {MAX_TENOR_MONTHS}. Got {t!r}.",
                field="tenor_months",
            )
        calendar(self.calendar)  # validates the name
        business_day_convention(self.business_day_convention)

    @property
    def n_periods(self) -> int:
        """Return the number of payment periods."""
        return int(self.tenor_months) // int(self.frequency_months)

    @property
    def maturity_date(self) -> date:
        """Return the adjusted maturity date."""
        return self.dates()[-1]

    def dates(self) -> list[date]:
        """Return the adjusted schedule dates ``d_0 (start) .. d_n (maturity)``."""
        cal = calendar(self.calendar)
        bdc = business_day_convention(self.business_day_convention)
        out = []
        for k in range(self.n_periods + 1):
            d = add_months(self.start_date, k * self.frequency_months)
            out.append(from_ql_date(cal.adjust(to_ql_date(d), bdc)))
        return out
