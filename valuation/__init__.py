"""Data-asset valuation: signals -> forecasts -> income, cost, market, Monte Carlo -> quote.

The one-call entry point is `value_asset` (the API contract); the approaches are the
``...Valuer`` classes (`IncomeValuer`, `CostValuer`, `MarketValuer`, `MonteCarloValuer`).
"""

from valuation.asset import AssetProfile, Quality, Rights
from valuation.cost import CostValuer
from valuation.engine import MODEL_VERSION, value_asset
from valuation.income import IncomeValuer
from valuation.market import MarketData
from valuation.market_approach import MarketValuer
from valuation.montecarlo import Distribution, MonteCarloResult, MonteCarloValuer
from valuation.quote import Quote
from valuation.reconcile import AssetValuation, ValuationResult
from valuation.results import MethodResult, ValuationInputs

__all__ = [
    "MODEL_VERSION",
    "AssetProfile",
    "AssetValuation",
    "CostValuer",
    "Distribution",
    "IncomeValuer",
    "MarketData",
    "MarketValuer",
    "MethodResult",
    "MonteCarloResult",
    "MonteCarloValuer",
    "Quality",
    "Quote",
    "Rights",
    "ValuationInputs",
    "ValuationResult",
    "value_asset",
]
