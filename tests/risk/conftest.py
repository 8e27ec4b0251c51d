"""Small books for the risk tests (fast: a few assets, tens of paths)."""

from __future__ import annotations

import numpy as np
import pytest

from risk.book import AssetPosition, Book, LoanPosition, TranchePosition
from risk.inputs import MarketGrid, RunConfig
from risk.runner import StressRunner

CATEGORIES = ("consumer", "industrial", "geospatial", "financial", "healthcare")


def make_book(
    n_assets: int = 10,
    loans_per_asset: int = 3,
    *,
    seed: int = 7,
    tranches: bool = True,
    hazard: float = 0.002,
) -> Book:
    """A synthetic book: loans sized at 40-70 % of their collateral's value."""
    rng = np.random.default_rng(seed)
    assets = [
        AssetPosition(
            id=f"a{i}",
            category=CATEGORIES[i % len(CATEGORIES)],
            currency="CNY",
            revenue_0=float(rng.uniform(5e4, 2e5)),
            growth_rate=float(rng.uniform(-0.05, 0.1)),
            volatility=float(rng.uniform(0.1, 0.4)),
            obsolescence_hazard=hazard,
            half_life_months=float(rng.uniform(24, 72)),
            economic_life_months=48,
            risk_premium=0.06,
            cross_border=bool(i % 2 == 0),
        )
        for i in range(n_assets)
    ]
    loans = []
    for i in range(n_assets):
        approx_value = assets[i].revenue_0 * 30.0
        for j in range(loans_per_asset):
            loans.append(
                LoanPosition(
                    id=f"l{i}_{j}",
                    currency="CNY",
                    principal=float(approx_value * rng.uniform(0.4, 0.7) / loans_per_asset),
                    pd=float(rng.uniform(0.005, 0.05)),
                    lgd=0.40,
                    annual_rate=0.05,
                    maturity_years=float(rng.choice([1.0, 2.0, 3.0])),
                    collateral={f"a{i}": None},
                    category=assets[i].category,
                )
            )
    deal: list[TranchePosition] = []
    if tranches:
        pool = tuple(x.id for x in loans[: max(2, len(loans) // 2)])
        for name, a, d, c in (
            ("equity", 0.0, 0.08, 0.12),
            ("mezzanine", 0.08, 0.2, 0.06),
            ("senior", 0.2, 1.0, 0.025),
        ):
            deal.append(
                TranchePosition(
                    id=f"s1-{name}",
                    securitization_id="s1",
                    name=name,
                    attach=a,
                    detach=d,
                    notional=1e6,
                    coupon=c,
                    maturity_years=3.0,
                    loan_ids=pool,
                )
            )
    return Book.build("CNY", assets, loans, deal)


@pytest.fixture(scope="session")
def book_factory():  # type: ignore[no-untyped-def]
    """`make_book` as a fixture (test modules cannot import conftest in importlib mode)."""
    return make_book


@pytest.fixture(scope="session")
def small_book() -> Book:
    return make_book()


@pytest.fixture(scope="session")
def grid() -> MarketGrid:
    return MarketGrid.flat(0.02, 48)


@pytest.fixture(scope="session")
def runner(small_book: Book, grid: MarketGrid) -> StressRunner:
    return StressRunner(
        small_book, grid, RunConfig(n_paths=64, asset_chunk_size=4, loan_chunk_size=7)
    )
