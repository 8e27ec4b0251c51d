"""Data-asset valuation: signals -> forecasts -> income, cost, market, Monte Carlo -> quote."""
