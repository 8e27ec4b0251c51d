"""Seeded generator of realistic sample data assets, their signals, costs and comparables.

Pure: numpy, pandas and the standard library only; all randomness comes from one
``numpy.random.Generator`` built from the seed, which is recorded in the result. The
demo, the tests and the benchmarks use it; nothing here touches a database.

What is generated
-----------------
`generate_samples` returns a `SampleData` with

- ``assets``: `SampleAsset` s, each with ``profile`` (a dict that is exactly the JSON body
  of ``POST /v1/assets``), ``revenue_shape`` (``growing``, ``flat``, ``saturating``,
  ``decaying``), ``signals`` and ``costs`` DataFrames;
- ``comparables``: a DataFrame of exchange transactions of similar data products.

Frames and units
----------------
signals
    columns ``month`` (``pandas.Timestamp``, first day of the month), ``metric``
    (``revenue`` in CNY major units per month, ``api_calls`` calls per month,
    ``active_subscribers`` paying subscribers in the month), ``value`` (float, >= 0).
    Long format, sorted by metric then month. A few months are missing (gaps).
costs
    columns ``category`` (``acquisition``, ``collection``, ``cleaning``, ``storage``,
    ``compute``, ``compliance``), ``amount`` (major units; for a recurring record the
    amount *per month*), ``currency`` (``CNY``), ``incurred_on`` (``datetime.date``, first
    month the cost is incurred), ``recurring_months`` (int: 0 for a one-off cost, n > 0
    for a cost paid every month for n months starting at ``incurred_on``).
comparables
    columns ``category``, ``price`` (major units), ``currency`` (``CNY``), ``traded_on``
    (``datetime.date``), ``records`` (int), ``quality_score`` (0..1, mean of the six
    GB/T 36344 dimensions), ``rights_scope`` (``processing_use`` < ``product_operation`` <
    ``holding``, sometimes ``+exclusive`` or ``+cross_border``: what the buyer acquired),
    ``annual_revenue`` (the traded product's revenue over the year before the trade, CNY).

Parameter choices (calibrated to the market facts in DESIGN.md)
---------------------------------------------------------------
- Size of the business: Chinese data-asset loans are mostly RMB 5-20 million at advance
  rates of 10-60 % of appraised value, so appraised values are ~RMB 10-100 million; at
  revenue multiples of 3-8x that is RMB 2-20 million of annual licence income. Starting
  monthly revenue is lognormal with median RMB 600 000 and log-sd 0.5.
- Revenue shapes over 36 months: growing (2-3.5 %/month), flat (+-0.3 %/month),
  saturating (logistic from R0 to 2.5-4 x R0 at 12-20 %/month), decaying (-2 to -4 %/month,
  obsolescence). Month-on-month noise is lognormal with log-sd 5-9 %.
- Seasonality (multiplicative, peak month): consumer 12 % (November, e-commerce festivals),
  industrial 5 % (September), geospatial 8 % (July, field season), financial 4 %
  (December, year-end), healthcare 6 % (January, winter season). Usage swings 1.5x
  the revenue amplitude.
- Usage: price per 1 000 API calls RMB 2-40 by category; monthly revenue per subscriber
  (ARPU) RMB 3 000-20 000.
- Gaps: every asset misses 1-3 months of revenue and 0-2 months of usage, never in the
  first or last three months.
- Costs: acquisition one-off 0.5-2.5 x R0 * 12 / 4; collection, storage and compute recurring
  (4-10 %, 1-3 %, 2-6 % of R0 per month); cleaning one-off at start plus recurring 1-3 %;
  compliance one-off at registration plus an annual audit (one-off records each year).
  Recurring costs are contracted 24 months past the last generated month, so they are
  still running on the natural valuation date.
- Quality: each GB/T 36344 dimension Beta(18, 3) (mean 0.86); refresh days by category
  (consumer 1, industrial 7, geospatial 30, financial 1, healthcare 30).
- Rights: every sample asset holds the holding and processing-use rights; product
  operation with probability 0.9, exclusivity 0.3; cross-border transfer barred for
  healthcare and geospatial data (personal and important data under PIPL / the Data
  Security Law), allowed with probability 0.3 otherwise.
- Comparables are priced as revenue multiples: annual revenue lognormal (median RMB 7.2
  million, log-sd 0.7); log price = log annual revenue + log 1.3 (the multiple of a
  full-rights, non-exclusive, domestic grant) + category premium + 2.0 (quality - 0.85)
  + log of the scope's score over that grant's (`valuation.asset.rights_score`) + 8 %/year
  drift + N(0, 0.30^2) noise. Records grow with revenue (elasticity 0.6). So comparables
  scale with revenue, as the market approach's revenue multiple assumes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from valuation.asset import rights_score
from valuation.conventions import add_months
from valuation.market_approach import scope_score

CATEGORIES: tuple[str, ...] = ("consumer", "industrial", "geospatial", "financial", "healthcare")
REVENUE_SHAPES: tuple[str, ...] = ("growing", "flat", "saturating", "decaying")
USAGE_METRICS: tuple[str, ...] = ("api_calls", "active_subscribers")
COST_CATEGORIES: tuple[str, ...] = (
    "acquisition",
    "collection",
    "cleaning",
    "storage",
    "compute",
    "compliance",
)
RIGHTS_SCOPES: tuple[str, ...] = ("processing_use", "product_operation", "holding")
#: Median revenue multiple (price / annual revenue) of a full-rights, non-exclusive,
#: domestic grant in the sample comparables.
COMPARABLE_MULTIPLE = 1.3
QUALITY_DIMENSIONS: tuple[str, ...] = (
    "accuracy",
    "consistency",
    "completeness",
    "conformity",
    "timeliness",
    "accessibility",
)

DEFAULT_SEED = 20240601
MAX_RECORDS = 2_000_000_000
"""Record counts are capped here (the registry stores them as 32-bit integers)."""
CURRENCY = "CNY"

# Seasonal amplitude and peak month (1..12) by category; see the module docstring.
_SEASON: dict[str, tuple[float, int]] = {
    "consumer": (0.12, 11),
    "industrial": (0.05, 9),
    "geospatial": (0.08, 7),
    "financial": (0.04, 12),
    "healthcare": (0.06, 1),
}
_REFRESH_DAYS: dict[str, int] = {
    "consumer": 1,
    "industrial": 7,
    "geospatial": 30,
    "financial": 1,
    "healthcare": 30,
}
# Price per 1 000 API calls, RMB (low, high).
_PRICE_PER_1K_CALLS: dict[str, tuple[float, float]] = {
    "consumer": (2.0, 6.0),
    "industrial": (5.0, 15.0),
    "geospatial": (8.0, 20.0),
    "financial": (15.0, 40.0),
    "healthcare": (10.0, 30.0),
}
# Comparable price premium by category (log scale).
_CATEGORY_PRICE_PREMIUM: dict[str, float] = {
    "consumer": 0.0,
    "industrial": float(np.log(0.9)),
    "geospatial": float(np.log(1.1)),
    "financial": float(np.log(1.5)),
    "healthcare": float(np.log(1.3)),
}
_NAMES: dict[str, tuple[str, ...]] = {
    "consumer": ("Retail basket panel", "Mobile app engagement feed", "E-commerce price index"),
    "industrial": ("Factory sensor telemetry", "Supply-chain shipment log", "Power load curves"),
    "geospatial": ("Road network changes", "Satellite land-use tiles", "Footfall heatmaps"),
    "financial": ("SME invoice ledger", "Payment flow aggregates", "Credit bureau extracts"),
    "healthcare": ("Outpatient visit statistics", "Drug sales panel", "Medical imaging labels"),
}


@dataclass(frozen=True, slots=True)
class SampleAsset:
    """One generated data asset.

    Attributes
    ----------
    key : str
        Stable short name, e.g. ``"consumer-growing-0"``.
    profile : dict
        JSON body of ``POST /v1/assets``: name, category, rights, quality, records,
        refresh_days, fingerprint_sha256.
    revenue_shape : str
        One of `REVENUE_SHAPES`.
    signals : pandas.DataFrame
        ``month, metric, value`` (see the module docstring for units).
    costs : pandas.DataFrame
        ``category, amount, currency, incurred_on, recurring_months``.
    """

    key: str
    profile: dict[str, Any]
    revenue_shape: str
    signals: pd.DataFrame
    costs: pd.DataFrame

    @property
    def category(self) -> str:
        """The asset's data category."""
        return str(self.profile["category"])


@dataclass(frozen=True, slots=True)
class SampleData:
    """Everything `generate_samples` makes, with the inputs that reproduce it."""

    seed: int
    start_month: date
    months: int
    assets: tuple[SampleAsset, ...]
    comparables: pd.DataFrame

    @property
    def as_of(self) -> date:
        """First day after the last generated month (a natural valuation date)."""
        return add_months(self.start_month, self.months)


def _month_starts(start: date, months: int) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start), periods=months, freq="MS")


def _revenue_level(shape: str, r0: float, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Deterministic revenue level per month (before seasonality and noise), CNY/month."""
    if shape == "growing":
        return r0 * np.exp(rng.uniform(0.02, 0.035) * t)
    if shape == "flat":
        return r0 * np.exp(rng.uniform(-0.003, 0.003) * t)
    if shape == "saturating":
        cap = rng.uniform(2.5, 4.0)
        speed = rng.uniform(0.12, 0.20)
        return r0 * cap / (1.0 + (cap - 1.0) * np.exp(-speed * t))
    if shape == "decaying":
        return r0 * np.exp(-rng.uniform(0.02, 0.04) * t)
    raise ValueError(f"The `revenue_shape` must be one of {REVENUE_SHAPES}. Got {shape!r}.")


def _seasonal(category: str, months: pd.DatetimeIndex, scale: float = 1.0) -> np.ndarray:
    amplitude, peak = _SEASON[category]
    month_of_year = months.month.to_numpy()
    return 1.0 + scale * amplitude * np.cos(2.0 * np.pi * (month_of_year - peak) / 12.0)


def _gap_mask(months: int, n_gaps: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask, True where a month is kept; gaps avoid the first and last 3 months."""
    keep = np.ones(months, dtype=bool)
    if n_gaps > 0:
        keep[rng.choice(np.arange(3, months - 3), size=n_gaps, replace=False)] = False
    return keep


def _profile(index: int, category: str, rng: np.random.Generator, seed: int) -> dict[str, Any]:
    names = _NAMES[category]
    name = f"{names[index // len(CATEGORIES) % len(names)]} #{index + 1}"
    quality = {dim: round(float(rng.beta(18.0, 3.0)), 3) for dim in QUALITY_DIMENSIONS}
    cross_border = False if category in ("healthcare", "geospatial") else bool(rng.random() < 0.3)
    rights = {
        "holding": True,
        "processing_use": True,
        "product_operation": bool(rng.random() < 0.9),
        "exclusive": bool(rng.random() < 0.3),
        "territory": "CN",
        "cross_border": cross_border,
    }
    records = int(min(np.exp(rng.normal(np.log(2e7), 1.2)), MAX_RECORDS))
    fingerprint = hashlib.sha256(f"datafin-sample:{seed}:{index}:{name}".encode()).hexdigest()
    return {
        "name": name,
        "category": category,
        "rights": rights,
        "quality": quality,
        "records": max(records, 10_000),
        "refresh_days": _REFRESH_DAYS[category],
        "fingerprint_sha256": fingerprint,
    }


def _signals(
    category: str,
    shape: str,
    r0: float,
    months_index: pd.DatetimeIndex,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n = len(months_index)
    t = np.arange(n, dtype=np.float64)
    level = _revenue_level(shape, r0, t, rng)
    noise_sd = rng.uniform(0.05, 0.09)
    revenue = level * _seasonal(category, months_index) * np.exp(rng.normal(0.0, noise_sd, n))

    low, high = _PRICE_PER_1K_CALLS[category]
    price_per_call = rng.uniform(low, high) / 1000.0
    usage_season = _seasonal(category, months_index, scale=1.5) / _seasonal(category, months_index)
    api_calls = np.round(revenue / price_per_call * usage_season * np.exp(rng.normal(0, 0.04, n)))
    arpu = rng.uniform(3000.0, 20000.0)
    subscribers = np.maximum(np.round(revenue / arpu * np.exp(rng.normal(0, 0.03, n))), 1.0)

    keep_revenue = _gap_mask(n, int(rng.integers(1, 4)), rng)
    keep_usage = _gap_mask(n, int(rng.integers(0, 3)), rng)
    frames = []
    for metric, values, keep in (
        ("revenue", np.round(revenue, 2), keep_revenue),
        ("api_calls", api_calls, keep_usage),
        ("active_subscribers", subscribers, keep_usage),
    ):
        frames.append(
            pd.DataFrame(
                {"month": months_index[keep], "metric": metric, "value": values[keep].astype(float)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def _costs(r0: float, start: date, months: int, rng: np.random.Generator) -> pd.DataFrame:
    contracted = months + 24  # recurring costs run past the last generated month
    rows: list[tuple[str, float, date, int]] = [
        ("acquisition", rng.uniform(0.5, 2.5) * r0 * 3.0, start, 0),
        ("cleaning", rng.uniform(0.2, 0.6) * r0, start, 0),
        ("compliance", rng.uniform(0.1, 0.3) * r0, start, 0),
        ("collection", rng.uniform(0.04, 0.10) * r0, start, contracted),
        ("cleaning", rng.uniform(0.01, 0.03) * r0, start, contracted),
        ("storage", rng.uniform(0.01, 0.03) * r0, start, contracted),
        ("compute", rng.uniform(0.02, 0.06) * r0, start, contracted),
    ]
    for year in range(1, months // 12 + 1):  # annual compliance audit
        if 12 * year < months:
            rows.append(
                ("compliance", rng.uniform(0.05, 0.1) * r0, add_months(start, 12 * year), 0)
            )
    return pd.DataFrame(
        {
            "category": [r[0] for r in rows],
            "amount": [round(float(r[1]), 2) for r in rows],
            "currency": CURRENCY,
            "incurred_on": [r[2] for r in rows],
            "recurring_months": np.array([r[3] for r in rows], dtype=np.int64),
        }
    )


def _comparables(n: int, start: date, months: int, rng: np.random.Generator) -> pd.DataFrame:
    categories = rng.choice(np.array(CATEGORIES), size=n)
    base = rng.choice(np.array(RIGHTS_SCOPES), size=n, p=[0.3, 0.3, 0.4])
    exclusive = rng.random(n) < 0.2
    cross = (rng.random(n) < 0.2) & ~np.isin(categories, ("healthcare", "geospatial"))
    scopes = np.array(
        [
            "+".join([b] + (["exclusive"] if e else []) + (["cross_border"] if c else []))
            for b, e, c in zip(base, exclusive, cross, strict=True)
        ]
    )
    full = rights_score(
        holding=True,
        processing_use=True,
        product_operation=True,
        exclusive=False,
        cross_border=False,
    )
    scope_ratio = np.array([scope_score(sc) / full for sc in scopes])
    annual_revenue = np.exp(rng.normal(np.log(7_200_000.0), 0.7, n))
    records = np.exp(
        np.log(2e7) + 0.6 * np.log(annual_revenue / 7_200_000.0) + rng.normal(0.0, 0.8, n)
    )
    records = np.clip(records.round(), 10_000, MAX_RECORDS).astype(np.int64)
    quality = np.clip(rng.beta(18.0, 3.0, n), 0.0, 1.0).round(3)
    offsets = rng.integers(0, months, n)
    years = offsets / 12.0
    log_price = (
        np.log(annual_revenue)
        + np.log(COMPARABLE_MULTIPLE)
        + np.array([_CATEGORY_PRICE_PREMIUM[c] for c in categories])
        + 2.0 * (quality - 0.85)
        + np.log(scope_ratio)
        + 0.08 * years
        + rng.normal(0.0, 0.30, n)
    )
    frame = pd.DataFrame(
        {
            "category": categories.astype(str),
            "price": np.round(np.exp(log_price), 2),
            "currency": CURRENCY,
            "traded_on": [add_months(start, int(k)).replace(day=15) for k in offsets],
            "records": records,
            "quality_score": quality,
            "rights_scope": scopes.astype(str),
            "annual_revenue": np.round(annual_revenue, 2),
        }
    )
    return frame.sort_values(["traded_on", "category"], kind="stable").reset_index(drop=True)


def generate_samples(
    seed: int = DEFAULT_SEED,
    *,
    n_assets: int = 10,
    months: int = 36,
    start_month: date = date(2023, 1, 1),
    n_comparables: int = 40,
) -> SampleData:
    """Generate sample data assets with signals and costs, and a set of comparables.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator`` (PCG64); the same seed gives the same data.
    n_assets : int
        Number of assets, >= 1. Asset ``i`` has category ``CATEGORIES[i % 5]`` and
        revenue shape ``REVENUE_SHAPES[i % 4]``, so 10 assets cover every category twice
        and every shape at least twice.
    months : int
        Months of signals per asset, >= 12.
    start_month : datetime.date
        First month (its day must be 1).
    n_comparables : int
        Number of comparable transactions, >= 0.

    Returns
    -------
    SampleData
    """
    if n_assets < 1:
        raise ValueError(f"The `n_assets` must be >= 1. Got {n_assets!r}.")
    if months < 12:
        raise ValueError(f"The `months` must be >= 12. Got {months!r}.")
    if start_month.day != 1:
        raise ValueError(f"The `start_month` must be the first day of a month. Got {start_month}.")
    if n_comparables < 0:
        raise ValueError(f"The `n_comparables` must be >= 0. Got {n_comparables!r}.")

    rng = np.random.default_rng(seed)
    months_index = _month_starts(start_month, months)
    assets = []
    for i in range(n_assets):
        category = CATEGORIES[i % len(CATEGORIES)]
        shape = REVENUE_SHAPES[i % len(REVENUE_SHAPES)]
        r0 = float(np.exp(rng.normal(np.log(600_000.0), 0.5)))
        profile = _profile(i, category, rng, seed)
        assets.append(
            SampleAsset(
                key=f"{category}-{shape}-{i}",
                profile=profile,
                revenue_shape=shape,
                signals=_signals(category, shape, r0, months_index, rng),
                costs=_costs(r0, start_month, months, rng),
            )
        )
    return SampleData(
        seed=seed,
        start_month=start_month,
        months=months,
        assets=tuple(assets),
        comparables=_comparables(n_comparables, start_month, months, rng),
    )
