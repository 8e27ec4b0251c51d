"""Market data for discounting: QuantLib term structures built from plain data.

A `MarketData` holds only plain values (dates, decimals, conventions), so it is
hashable, picklable and safe to pass between processes. QuantLib objects are built
on demand inside `discount_factors`, with every curve anchored at an explicit
reference date (``as_of``), while a module lock is held and QuantLib's global
evaluation date is set to ``as_of`` and restored afterwards: no global state leaks
between calls or threads.

Curves
------
- flat: one zero rate (``MarketData.flat``), QuantLib ``FlatForward``;
- zero curve from points (``MarketData.zero_curve``), QuantLib ``ZeroCurve`` (linear in
  the zero rate, flat extrapolation);
- spreaded by a risk premium (``with_risk_premium``), QuantLib
  ``ZeroSpreadedTermStructure``: the premium is added to the zero rate quoted with
  the curve's own day count and compounding.

Default market data
-------------------
`DEFAULT_MARKET_DATA` is the one table of what the service assumes when a request gives
no rate: per currency, a flat risk-free rate (the sovereign curve at 1-3 years) and a
bank's funding spread over it. Valuation discounts at the risk-free rate, loan pricing
funds at risk-free + spread, tranche and note pricing and the stress grid discount at
the risk-free rate: every figure of one currency rests on the same curve. A currency
absent from the table has no default: the caller gives the rate, and the error names it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from types import MappingProxyType

import numpy as np
import QuantLib as ql

from valuation._typing import FloatArray
from valuation.conventions import Compounding, DayCount, Rate, parse_currency, to_ql_date
from valuation.errors import ConventionError

_QL_LOCK = threading.RLock()


def _check_rate(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConventionError(
            f"The `{field}` must be a finite decimal. Got {value!r}.", field=field
        )
    if abs(value) >= 1.0:
        raise ConventionError(
            f"The `{field}` must be a decimal in (-1, 1) (0.05 means 5 %). Got {value!r}; "
            "was a percentage passed?",
            field=field,
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class CurrencyDefaults:
    """Default market data of one currency (decimals, annual compounding, ACT/365F).

    ``risk_free_rate``: a flat zero rate at about the 1-3 year sovereign yield;
    ``funding_spread``: a bank's senior funding over that curve, so its funding rate is
    ``risk_free_rate + funding_spread``; ``source``: where the figure comes from.
    """

    risk_free_rate: float
    funding_spread: float
    source: str

    @property
    def funding_rate(self) -> float:
        """Return the bank funding rate: the risk-free rate plus the funding spread."""
        return self.risk_free_rate + self.funding_spread


#: A bank's senior funding over the sovereign curve at 1-3 years (50 bp): one spread for
#: every currency, where a bank with its own funding curve passes ``funding_rate``.
DEFAULT_FUNDING_SPREAD = 0.005

#: The one table of default market data, by currency: approximate 1-3 year government
#: yields, mid-2025. Used by valuation (risk-free), loan pricing (funding), tranche and
#: note pricing and the stress grid (risk-free) when a request gives no rate.
DEFAULT_MARKET_DATA: Mapping[str, CurrencyDefaults] = MappingProxyType(
    {
        "CNY": CurrencyDefaults(0.015, DEFAULT_FUNDING_SPREAD, "China government bonds ~1.5 %"),
        "CNH": CurrencyDefaults(0.015, DEFAULT_FUNDING_SPREAD, "China government bonds ~1.5 %"),
        "USD": CurrencyDefaults(0.040, DEFAULT_FUNDING_SPREAD, "US Treasuries ~4.0 %"),
        "EUR": CurrencyDefaults(0.020, DEFAULT_FUNDING_SPREAD, "German Bunds ~2.0 %"),
        "GBP": CurrencyDefaults(0.040, DEFAULT_FUNDING_SPREAD, "UK gilts ~4.0 %"),
        "HKD": CurrencyDefaults(0.030, DEFAULT_FUNDING_SPREAD, "Exchange Fund Notes ~3.0 %"),
        "JPY": CurrencyDefaults(0.007, DEFAULT_FUNDING_SPREAD, "Japanese government bonds ~0.7 %"),
    }
)


def currency_defaults(currency: str, *, field: str) -> CurrencyDefaults:
    """Return the default market data of ``currency``.

    Raises
    ------
    ConventionError
        When the table has no row for the currency; ``field`` names the input that the
        caller must give instead (e.g. ``risk_free_rate`` or ``funding_rate``).

    Examples
    --------
    >>> currency_defaults("CNY", field="risk_free_rate").funding_rate
    0.02
    """
    ccy = parse_currency(currency)
    found = DEFAULT_MARKET_DATA.get(ccy)
    if found is None:
        raise ConventionError(
            f"The `{field}` is required for {ccy}: there is no default curve for it "
            f"(defaults exist for {', '.join(DEFAULT_MARKET_DATA)}).",
            field=field,
        )
    return found


def default_curve(
    as_of: date, currency: str, rate: float | None = None, *, field: str = "risk_free_rate"
) -> MarketData:
    """Return a flat curve at ``rate``, or at the currency's default risk-free rate.

    Annual compounding, ACT/365F; the default rate applies when ``rate`` is None (see
    `DEFAULT_MARKET_DATA`).
    """
    ccy = parse_currency(currency)
    if rate is None:
        rate = currency_defaults(ccy, field=field).risk_free_rate
    return MarketData.flat_rate(
        as_of, rate, currency=ccy, day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )


@dataclass(frozen=True, slots=True)
class MarketData:
    """Discount curve for one currency at one valuation date.

    Attributes
    ----------
    as_of : datetime.date
        Reference date of the curve (discount factor 1).
    currency : str
        ISO 4217 code of the cash flows this curve discounts.
    pillar_dates : tuple of date
        Curve pillars, strictly increasing, all after ``as_of``; one pillar with
        ``is_flat=True`` means a flat curve.
    zero_rates : tuple of float
        Zero rates at the pillars, decimals, quoted with ``day_count`` and ``compounding``.
    day_count : DayCount
        Day count of the zero rates (no default: stated explicitly).
    compounding : Compounding
        Compounding of the zero rates.
    risk_premium : float
        Spread added to every zero rate (decimal), same quoting; default 0.
    is_flat : bool
        True for a flat curve (``zero_rates`` has one element).
    """

    as_of: date
    currency: str
    pillar_dates: tuple[date, ...]
    zero_rates: tuple[float, ...]
    day_count: DayCount
    compounding: Compounding
    risk_premium: float = 0.0
    is_flat: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.as_of, date):
            raise ConventionError(
                f"The `as_of` of `MarketData` must be a date. Got {self.as_of!r}.", field="as_of"
            )
        parse_currency(self.currency)
        if not isinstance(self.day_count, DayCount):
            object.__setattr__(self, "day_count", DayCount.parse(self.day_count))
        if not isinstance(self.compounding, Compounding):
            try:
                object.__setattr__(self, "compounding", Compounding(self.compounding))
            except ValueError:
                raise ConventionError(
                    f"The `compounding` of `MarketData` must be one of "
                    f"{[c.value for c in Compounding]}. Got {self.compounding!r}.",
                    field="compounding",
                ) from None
        if len(self.zero_rates) == 0 or len(self.zero_rates) != len(self.pillar_dates):
            raise ConventionError(
                "The `zero_rates` of `MarketData` must be non-empty and match `pillar_dates` "
                f"in length. Got {len(self.zero_rates)} rates and {len(self.pillar_dates)} dates.",
                field="zero_rates",
            )
        for r in self.zero_rates:
            _check_rate(r, "zero_rates")
        _check_rate(self.risk_premium, "risk_premium")
        prev = self.as_of
        for d in self.pillar_dates:
            if not isinstance(d, date) or d <= prev:
                raise ConventionError(
                    "The `pillar_dates` of `MarketData` must be strictly increasing dates after "
                    f"`as_of` ({self.as_of}). Got {d!r}.",
                    field="pillar_dates",
                )
            prev = d
        if self.is_flat and len(self.zero_rates) != 1:
            raise ConventionError(
                "A flat `MarketData` has exactly one zero rate.", field="zero_rates"
            )

    # ---- constructors -------------------------------------------------------------
    @classmethod
    def flat_rate(
        cls,
        as_of: date,
        rate: float,
        *,
        currency: str,
        day_count: DayCount,
        compounding: Compounding,
        risk_premium: float = 0.0,
    ) -> MarketData:
        """Return a flat curve: every zero rate equals ``rate`` (decimal)."""
        return cls(
            as_of=as_of,
            currency=currency,
            pillar_dates=(date(as_of.year + 1, as_of.month, min(as_of.day, 28)),),
            zero_rates=(_check_rate(rate, "rate"),),
            day_count=day_count,
            compounding=compounding,
            risk_premium=risk_premium,
            is_flat=True,
        )

    @classmethod
    def flat(
        cls,
        as_of: date,
        rate: float | Rate,
        currency: str,
        day_count: DayCount | None = None,
        compounding: Compounding | None = None,
        *,
        risk_premium: float = 0.0,
    ) -> MarketData:
        """Build a flat curve from a decimal with its conventions, or from a `Rate`."""
        if isinstance(rate, Rate):
            day_count = rate.day_count if day_count is None else day_count
            compounding = rate.compounding if compounding is None else compounding
            rate = rate.value
        if day_count is None or compounding is None:
            raise ConventionError(
                "A flat `MarketData` needs its `day_count` and `compounding` (or a `Rate`): "
                "no rate travels without its conventions.",
                field="day_count" if day_count is None else "compounding",
            )
        return cls.flat_rate(
            as_of,
            rate,
            currency=currency,
            day_count=day_count,
            compounding=compounding,
            risk_premium=risk_premium,
        )

    @classmethod
    def zero_curve(
        cls,
        as_of: date,
        pillar_dates: Sequence[date],
        zero_rates: Sequence[float],
        *,
        currency: str,
        day_count: DayCount,
        compounding: Compounding,
        risk_premium: float = 0.0,
    ) -> MarketData:
        """Return a zero curve through the given points (linear in the zero rate, flat beyond)."""
        return cls(
            as_of=as_of,
            currency=currency,
            pillar_dates=tuple(pillar_dates),
            zero_rates=tuple(float(r) for r in zero_rates),
            day_count=day_count,
            compounding=compounding,
            risk_premium=risk_premium,
        )

    def with_risk_premium(self, risk_premium: float) -> MarketData:
        """Return the same curve spreaded by ``risk_premium`` (replaces any premium already set)."""
        return replace(self, risk_premium=_check_rate(risk_premium, "risk_premium"))

    def spreaded(self, risk_premium: float) -> MarketData:
        """Alias of `with_risk_premium`."""
        return self.with_risk_premium(risk_premium)

    def parallel_shift(self, shift_bp: float) -> MarketData:
        """Every zero rate moved by ``shift_bp`` basis points (a stress helper)."""
        return replace(self, zero_rates=tuple(r + shift_bp / 1e4 for r in self.zero_rates))

    # ---- QuantLib ---------------------------------------------------------------------
    def _build(self) -> ql.YieldTermStructure:
        ref = to_ql_date(self.as_of)
        dc = self.day_count.to_ql()
        comp, freq = self.compounding.to_ql()
        if self.is_flat:
            base: ql.YieldTermStructure = ql.FlatForward(ref, self.zero_rates[0], dc, comp, freq)
        else:
            # Flat at both ends: the first rate back to as_of, the last one held to 2199-12-31 (QuantLib's last date).
            last = to_ql_date(self.pillar_dates[-1])
            dates = [ref] + [to_ql_date(d) for d in self.pillar_dates] + [ql.Date(31, 12, 2199)]
            rates = [self.zero_rates[0], *self.zero_rates, self.zero_rates[-1]]
            if dates[-1] <= last:  # pragma: no cover - pillars at the end of time
                dates, rates = dates[:-1], rates[:-1]
            base = ql.ZeroCurve(dates, rates, dc, ql.NullCalendar(), ql.Linear(), comp, freq)
        base.enableExtrapolation()
        if self.risk_premium == 0.0:
            return base
        spreaded = ql.ZeroSpreadedTermStructure(
            ql.YieldTermStructureHandle(base),
            ql.QuoteHandle(ql.SimpleQuote(self.risk_premium)),
            comp,
            freq,
            dc,
        )
        spreaded.enableExtrapolation()
        return spreaded

    def discount_factors(
        self, dates: Sequence[date], *, from_date: date | None = None
    ) -> FloatArray:
        """Discount factors to each date, shape (len(dates),).

        From ``as_of`` by default; with ``from_date`` (on or after ``as_of``) the forward
        discount factors ``DF(as_of, d) / DF(as_of, from_date)`` (the curve seen from a
        later valuation date). Dates must be after the start date (future cash flows).
        """
        start = self.as_of if from_date is None else from_date
        if start < self.as_of:
            raise ConventionError(
                f"The valuation date {start} must not be before the curve's `as_of` ({self.as_of}).",
                field="as_of",
            )
        for d in dates:
            if not isinstance(d, date) or d <= start:
                raise ConventionError(
                    f"Discount dates must be after `as_of` ({start}). Got {d!r}.",
                    field="dates",
                )
        with _QL_LOCK:
            settings = ql.Settings.instance()
            saved = settings.evaluationDate
            try:
                settings.evaluationDate = to_ql_date(self.as_of)
                curve = self._build()
                out = np.fromiter(
                    (curve.discount(to_ql_date(d)) for d in dates),
                    dtype=np.float64,
                    count=len(dates),
                )
                if start != self.as_of:
                    out /= curve.discount(to_ql_date(start))
            finally:
                settings.evaluationDate = saved
        return out

    def as_dict(self) -> dict[str, object]:
        """Plain-data echo of the curve (for assumptions and hashing)."""
        return {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "kind": "flat" if self.is_flat else "zero_curve",
            "pillar_dates": [d.isoformat() for d in self.pillar_dates],
            "zero_rates": list(self.zero_rates),
            "day_count": self.day_count.value,
            "compounding": self.compounding.value,
            "risk_premium": self.risk_premium,
        }


def flat_annual_discount_factors(
    as_of: date, dates: Sequence[date], discount_rate: float
) -> FloatArray:
    """``(1 + r) ** -t`` with ``t`` the ACT/365F year fraction from ``as_of`` (QuantLib FlatForward).

    This is the API contract ``discount_rate`` semantics: a flat annual effective rate with
    annual compounding on ACT/365F year fractions.
    """
    curve = MarketData.flat_rate(
        as_of,
        discount_rate,
        currency="USD",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    )
    return curve.discount_factors(dates)
