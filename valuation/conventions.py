"""Market conventions: currency, day count, compounding, rates, calendars and dates.

This is the lowest layer of the numerical core and the one place where
``datetime.date`` is converted to and from ``QuantLib.Date``. Every other module
passes plain ``date`` objects and asks this module for QuantLib objects when it
calls QuantLib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

import QuantLib as ql

from valuation.errors import ConventionError

# ISO 4217 codes with their minor units (number of decimals booked). The active
# codes most used in data-asset and credit markets; source: ISO 4217 list
# maintained by SIX Financial Information (amendment 176, 2024).
MINOR_UNITS: dict[str, int] = {
    "AED": 2,
    "AUD": 2,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNH": 2,
    "CNY": 2,
    "COP": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "ISK": 0,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "PHP": 2,
    "PLN": 2,
    "QAR": 2,
    "RUB": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TRY": 2,
    "TWD": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
    "BHD": 3,
}


_Choice = TypeVar("_Choice", bound=StrEnum)


def parse_choice(choices: type[_Choice], value: object, *, field: str) -> _Choice:
    """Return the member of ``choices`` named ``value``.

    Anything else is an error naming ``field`` and the allowed values: the one parser of
    the named choices at the boundary (day counts, amortisations).
    """
    try:
        return choices(value)  # type: ignore[arg-type]  # any value: a non-member raises
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in choices)
        raise ConventionError(
            f"The `{field}` must be one of {allowed}. Got {value!r}.", field=field
        ) from None


class Currency(StrEnum):
    """ISO 4217 currency code, upper case."""

    CNY = "CNY"
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    HKD = "HKD"
    JPY = "JPY"

    @classmethod
    def parse(cls, code: object, *, field: str = "currency") -> str:
        """Return the validated ISO 4217 code for `code` (any supported code, not only members)."""
        if not isinstance(code, str) or code.upper() != code or code not in MINOR_UNITS:
            raise ConventionError(
                f"The `{field}` must be an upper-case ISO 4217 code such as 'CNY' or 'USD'. "
                f"Got {code!r}.",
                field=field,
            )
        return code


def round_to_minor_unit(amount: float, currency: str) -> Decimal:
    """Round a booked amount to the currency's minor unit, half to even.

    A booked amount: ``amount`` rounded once, half to even, to the currency's minor unit
    (`MINOR_UNITS`: 2 decimals for CNY, 0 for JPY), as an exact decimal.

    >>> round_to_minor_unit(1234.5678, "CNY"), round_to_minor_unit(1234.5, "JPY")
    (Decimal('1234.57'), Decimal('1234'))
    """
    quantum = Decimal(1).scaleb(-MINOR_UNITS[parse_currency(currency)])
    return Decimal(repr(float(amount))).quantize(quantum)


def parse_currency(code: object, *, field: str = "currency") -> str:
    """Validate an ISO 4217 code; see `Currency.parse`."""
    return Currency.parse(code, field=field)


def round_money(amount: float, currency: str) -> Decimal:
    """Round a model amount to the currency's minor unit (banker's rounding), once, at booking."""
    if not math.isfinite(amount):
        raise ConventionError(f"The `amount` must be finite. Got {amount!r}.", field="amount")
    quantum = Decimal(1).scaleb(-MINOR_UNITS[parse_currency(currency)])
    try:
        return Decimal(repr(float(amount))).quantize(quantum, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:  # more digits than the decimal context holds
        raise ConventionError(
            f"The `amount` is too large to book in {currency}. Got {amount!r}.", field="amount"
        ) from None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in major units with its currency. Different currencies never add."""

    amount: float
    currency: str

    def __post_init__(self) -> None:
        parse_currency(self.currency)
        if not math.isfinite(self.amount):
            raise ConventionError(f"The `amount` of `Money` must be finite. Got {self.amount!r}.")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ConventionError(
                f"Amounts in {self.currency} and {other.currency} cannot be added; convert first."
            )
        return Money(self.amount + other.amount, self.currency)

    def __mul__(self, k: float) -> Money:
        return Money(self.amount * k, self.currency)

    __rmul__ = __mul__


class DayCount(StrEnum):
    """Day-count conventions supported at the boundaries."""

    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"
    THIRTY_360 = "30/360"
    ACT_ACT = "ACT/ACT"

    @classmethod
    def parse(cls, value: object, *, field: str = "day_count") -> DayCount:
        """Parse a day-count name; an unknown one is an error naming ``field``."""
        return parse_choice(cls, value, field=field)

    def to_ql(self) -> ql.DayCounter:
        """Return the QuantLib day counter (30/360 is the bond basis, ACT/ACT is ISDA)."""
        if self is DayCount.ACT_360:
            return ql.Actual360()
        if self is DayCount.ACT_365F:
            return ql.Actual365Fixed()
        if self is DayCount.THIRTY_360:
            return ql.Thirty360(ql.Thirty360.BondBasis)
        return ql.ActualActual(ql.ActualActual.ISDA)


class Compounding(StrEnum):
    """How a rate compounds."""

    SIMPLE = "simple"
    ANNUAL = "annual"
    CONTINUOUS = "continuous"
    MONTHLY = "monthly"

    def to_ql(self) -> tuple[int, int]:
        """(QuantLib compounding, QuantLib frequency)."""
        return {
            Compounding.SIMPLE: (ql.Simple, ql.Annual),
            Compounding.ANNUAL: (ql.Compounded, ql.Annual),
            Compounding.CONTINUOUS: (ql.Continuous, ql.Annual),
            Compounding.MONTHLY: (ql.Compounded, ql.Monthly),
        }[self]


@dataclass(frozen=True, slots=True)
class Rate:
    """An interest rate with its conventions. ``value`` is a decimal: 0.0525 is 5.25 %."""

    value: float
    day_count: DayCount
    compounding: Compounding

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or abs(self.value) >= 1.0:
            raise ConventionError(
                f"The `value` of `Rate` must be a finite decimal in (-1, 1). Got {self.value!r}; "
                "was a percentage passed?",
                field="rate",
            )

    def discount_factor(self, t_years: float) -> float:
        """Discount factor over a year fraction measured in this rate's day count."""
        if self.compounding is Compounding.CONTINUOUS:
            return math.exp(-self.value * t_years)
        if self.compounding is Compounding.SIMPLE:
            return 1.0 / (1.0 + self.value * t_years)
        if self.compounding is Compounding.MONTHLY:
            return float((1.0 + self.value / 12.0) ** (-12.0 * t_years))
        return float((1.0 + self.value) ** (-t_years))


# Calendars by the names accepted at the boundaries. "China" is the Shanghai Stock
# Exchange calendar (ql.China.SSE), which carries the mainland public holidays.
_CALENDARS = {
    "NullCalendar": lambda: ql.NullCalendar(),
    "WeekendsOnly": lambda: ql.WeekendsOnly(),
    "China": lambda: ql.China(ql.China.SSE),
    "ChinaIB": lambda: ql.China(ql.China.IB),
    "HongKong": lambda: ql.HongKong(),
    "TARGET": lambda: ql.TARGET(),
    "UnitedStates": lambda: ql.UnitedStates(ql.UnitedStates.Settlement),
    "UnitedKingdom": lambda: ql.UnitedKingdom(),
    "Japan": lambda: ql.Japan(),
}
CALENDAR_NAMES: tuple[str, ...] = tuple(_CALENDARS)


def calendar(name: str | None, *, field: str = "calendar") -> ql.Calendar:
    """Return the QuantLib calendar of a name; ``None`` means no holidays (NullCalendar)."""
    if name is None:
        return ql.NullCalendar()
    try:
        return _CALENDARS[name]()
    except KeyError:
        raise ConventionError(
            f"The `{field}` must be one of {', '.join(CALENDAR_NAMES)}. Got {name!r}.", field=field
        ) from None


QL_MIN_DATE = date(1901, 1, 1)
QL_MAX_DATE = date(2199, 12, 31)
"""The dates QuantLib can represent."""


_BDC: dict[str, int] = {
    "Following": ql.Following,
    "ModifiedFollowing": ql.ModifiedFollowing,
    "Preceding": ql.Preceding,
    "ModifiedPreceding": ql.ModifiedPreceding,
    "Unadjusted": ql.Unadjusted,
}
BUSINESS_DAY_CONVENTIONS: tuple[str, ...] = tuple(_BDC)


def business_day_convention(name: str, *, field: str = "business_day_convention") -> int:
    """QuantLib business-day convention for a name in `BUSINESS_DAY_CONVENTIONS`."""
    try:
        return _BDC[name]
    except (KeyError, TypeError):
        raise ConventionError(
            f"The `{field}` must be one of {', '.join(BUSINESS_DAY_CONVENTIONS)}. Got {name!r}.",
            field=field,
        ) from None


def to_ql_date(d: date) -> ql.Date:
    """``datetime.date`` -> ``QuantLib.Date`` (the only place this conversion happens)."""
    if not isinstance(d, date):
        raise ConventionError(f"Expected a datetime.date. Got {d!r}.")
    if not QL_MIN_DATE <= d <= QL_MAX_DATE:
        raise ConventionError(
            f"The date must be between {QL_MIN_DATE} and {QL_MAX_DATE} (QuantLib's range). Got {d}.",
            field="date",
        )
    return ql.Date(d.day, d.month, d.year)


def from_ql_date(d: ql.Date) -> date:
    """``QuantLib.Date`` -> ``datetime.date``."""
    return date(d.year(), d.month(), d.dayOfMonth())


def parse_date(value: object, *, field: str) -> date:
    """Accept a ``date`` or an ISO ``YYYY-MM-DD`` string; anything else is a `ConventionError`."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConventionError(
        f"The `{field}` must be a date in ISO form YYYY-MM-DD. Got {value!r}.", field=field
    )


def year_fraction(start: date, end: date, day_count: DayCount) -> float:
    """Year fraction between two dates under a day count (QuantLib's definition)."""
    return float(day_count.to_ql().yearFraction(to_ql_date(start), to_ql_date(end)))


def month_index(d: date) -> int:
    """Return the month of ``d`` counted from January of year 0 (``year * 12 + month - 1``).

    The difference of two indices is the number of calendar months between two dates:

    >>> month_index(date(2026, 3, 31)) - month_index(date(2025, 12, 1))
    3
    """
    return d.year * 12 + d.month - 1


def first_of_month(d: date, months: int = 0) -> date:
    """Return the first day of the month ``months`` calendar months after that of ``d``.

    >>> first_of_month(date(2025, 11, 17), 3)
    datetime.date(2026, 2, 1)
    """
    year, month = divmod(month_index(d) + months, 12)
    return date(year, month + 1, 1)


def add_months(d: date, months: int) -> date:
    """Return the same day ``months`` later, clipped to the month's last day."""
    total = month_index(d) + months
    year, month = divmod(total, 12)
    month += 1
    # last day of the target month
    last = 31 if month == 12 else (date(year, month + 1, 1) - date(year, month, 1)).days
    return date(year, month, min(d.day, last))
