"""Inputs and result objects shared by the valuers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from valuation.asset import AssetProfile
from valuation.conventions import parse_currency
from valuation.errors import ConventionError

SIGNAL_COLUMNS = ("month", "metric", "value")
COST_COLUMNS = ("category", "amount", "currency", "incurred_on", "recurring_months")
COMPARABLE_COLUMNS = (
    "category",
    "price",
    "currency",
    "traded_on",
    "records",
    "quality_score",
    "rights_scope",
)
#: The columns of a comparables frame as the registry keeps it: the required ones and the
#: optional ``annual_revenue`` the revenue multiple uses.
COMPARABLE_FRAME_COLUMNS = (*COMPARABLE_COLUMNS, "annual_revenue")


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """Return an empty DataFrame with ``columns``."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass(frozen=True, slots=True)
class ValuationInputs:
    """Everything a valuer reads about one asset, in the valuation currency.

    Attributes
    ----------
    signals : pandas.DataFrame
        ``month`` (month start), ``metric``, ``value`` (revenue in major units, usage in counts).
    costs : pandas.DataFrame
        ``category``, ``amount`` (major units per occurrence), ``currency``, ``incurred_on``
        (date of the first occurrence), ``recurring_months`` (number of monthly
        occurrences; 0 or 1 means one-off).
    comparables : pandas.DataFrame
        ``category``, ``price`` (major units), ``currency``, ``traded_on``, ``records``,
        ``quality_score`` (0..1), ``rights_scope``.
    asset : AssetProfile
    currency : str
        Valuation currency (ISO 4217).
    """

    signals: pd.DataFrame
    costs: pd.DataFrame
    comparables: pd.DataFrame
    asset: AssetProfile
    currency: str

    def __post_init__(self) -> None:
        parse_currency(self.currency)
        if not isinstance(self.asset, AssetProfile):
            raise ConventionError(
                f"The `asset` must be an `AssetProfile`. Got {type(self.asset).__name__}.",
                field="asset",
            )
        for name, cols in (
            ("signals", SIGNAL_COLUMNS),
            ("costs", COST_COLUMNS),
            ("comparables", COMPARABLE_COLUMNS),
        ):
            frame = getattr(self, name)
            if frame is None:
                object.__setattr__(self, name, empty_frame(cols))
                continue
            if not isinstance(frame, pd.DataFrame):
                raise ConventionError(
                    f"The `{name}` must be a pandas DataFrame. Got {type(frame).__name__}.",
                    field=name,
                )
            missing = [c for c in cols if c not in frame.columns]
            if missing and not frame.empty:
                raise ConventionError(
                    f"The `{name}` must have the columns {list(cols)}. Missing {missing}.",
                    field=f"{name}.{missing[0]}",
                )
            if missing:
                object.__setattr__(self, name, empty_frame(cols))


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One approach's result.

    Attributes
    ----------
    method : str
        ``income``, ``cost``, ``market`` or ``monte_carlo``.
    value : float
        Point value in major units of ``currency`` (never negative).
    currency : str
    as_of : date
    assumptions : mapping
        Every assumption the method used (given or defaulted), echoed for the record.
    diagnostics : mapping
        Fitted parameters, counts, notes (``warnings``: ``{code, message}`` items).
    distribution : mapping or None
        ``mean``, ``std``, ``p05``, ``p50``, ``p95`` of the approach's own uncertainty
        (`valuation.mixture`), set by `valuation.value_asset`.
    """

    method: str
    value: float
    currency: str
    as_of: date
    assumptions: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    distribution: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if not (self.value >= 0.0) or self.value == float("inf"):
            raise ConventionError(
                f"The `value` of `MethodResult` must be finite and non-negative. Got {self.value!r}.",
                field="value",
            )

    def as_dict(self) -> dict[str, Any]:
        """Return the method's result as a plain dict."""
        return {
            "value": float(self.value),
            "currency": self.currency,
            "assumptions": dict(self.assumptions),
            "diagnostics": dict(self.diagnostics),
            "distribution": None if self.distribution is None else dict(self.distribution),
        }
