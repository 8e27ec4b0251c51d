"""Fixtures for the valuation tests: small, deterministic inputs built in code."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from valuation.asset import AssetProfile, Quality, Rights
from valuation.conventions import Compounding, DayCount
from valuation.market import MarketData

AS_OF = date(2026, 1, 1)


def revenue_frame(
    values: np.ndarray, start: str = "2023-01-01", metric: str = "revenue"
) -> pd.DataFrame:
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame(
        {"month": months, "metric": metric, "value": np.asarray(values, dtype=float)}
    )


def make_asset(
    timeliness: float = 0.8, refresh_days: float = 7.0, term_months: int | None = None
) -> AssetProfile:
    return AssetProfile(
        id="asset-1",
        name="Test feed",
        category="consumer",
        rights=Rights(term_months=term_months),
        quality=Quality(0.9, 0.85, 0.9, 0.8, timeliness, 0.9),
        records=2_000_000,
        refresh_days=refresh_days,
    )


def make_costs(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "category": ["acquisition", "storage", "compliance"],
            "amount": [120_000.0 * scale, 1_500.0 * scale, 8_000.0 * scale],
            "currency": "CNY",
            "incurred_on": [date(2023, 1, 1), date(2023, 1, 1), date(2024, 6, 1)],
            "recurring_months": [0, 48, 0],
        }
    )


def make_comparables(n: int = 5, scale: float = 1.0, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "category": "consumer",
            "price": np.round(rng.uniform(200_000, 600_000, n), 2) * scale,
            "currency": "CNY",
            "traded_on": [date(2025, 1 + (i % 12), 15) for i in range(n)],
            "records": rng.integers(500_000, 5_000_000, n),
            "quality_score": np.round(rng.uniform(0.7, 0.95, n), 3),
            "rights_scope": [
                ("processing_use", "product_operation", "holding")[i % 3] for i in range(n)
            ],
        }
    )


def noisy_growth(
    n: int = 36, seed: int = 0, level: float = 50_000.0, growth: float = 0.01
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level * np.exp(growth * t + 0.05 * rng.standard_normal(n))


@pytest.fixture
def as_of() -> date:
    return AS_OF


@pytest.fixture
def market() -> MarketData:
    return MarketData.flat_rate(
        AS_OF, 0.02, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )


@pytest.fixture
def asset() -> AssetProfile:
    return make_asset()


class Builders:
    """Input builders, handed to tests through the `build` fixture (conftest is not importable)."""

    as_of = AS_OF
    revenue_frame = staticmethod(revenue_frame)
    asset = staticmethod(make_asset)
    costs = staticmethod(make_costs)
    comparables = staticmethod(make_comparables)
    noisy_growth = staticmethod(noisy_growth)

    @staticmethod
    def market(rate: float = 0.02) -> MarketData:
        return MarketData.flat_rate(
            AS_OF, rate, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
        )


@pytest.fixture
def build() -> type[Builders]:
    return Builders
