"""One table of default market data per currency, used by every figure that needs a rate.

Valuation discounts at the table's risk-free rate, loan pricing funds at risk-free plus
the funding spread, tranche pricing and the stress grid discount at the risk-free rate.
Before, each layer had its own default for CNY (1.5 %, 2.0 % and 1.8 %) and its own rule
for currencies outside its table (an error, a flat 3 %, a flat 1.8 %).
"""

from __future__ import annotations

from datetime import date

import pytest

from api.services import credit as credit_service
from api.services import stress_book as stress_book_service
from api.services import valuation as valuation_service
from valuation.errors import ConventionError
from valuation.market import (
    DEFAULT_FUNDING_SPREAD,
    DEFAULT_MARKET_DATA,
    currency_defaults,
    default_curve,
)

AS_OF = date(2025, 6, 30)
T = [date(2027, 6, 30)]


def _zero(market, when=T) -> float:
    df = float(market.discount_factors(when)[0])
    years = (when[0] - AS_OF).days / 365.0
    return df ** (-1.0 / years) - 1.0


@pytest.mark.parametrize("currency", sorted(DEFAULT_MARKET_DATA))
def test_every_layer_reads_the_same_row(currency: str) -> None:
    row = DEFAULT_MARKET_DATA[currency]
    assert row.funding_rate == pytest.approx(row.risk_free_rate + DEFAULT_FUNDING_SPREAD)
    assert _zero(valuation_service.market_for(AS_OF, currency)) == pytest.approx(
        row.risk_free_rate, abs=1e-12
    )
    assert _zero(credit_service.funding_curve(AS_OF, currency)) == pytest.approx(
        row.funding_rate, abs=1e-12
    )
    grid = stress_book_service.market_grid(AS_OF, currency)
    assert _zero(default_curve(AS_OF, currency)) == pytest.approx(row.risk_free_rate, abs=1e-12)
    # the stress grid's month-24 discount factor is the risk-free curve's
    assert float(grid.discount_factors[23]) == pytest.approx(
        float(default_curve(AS_OF, currency).discount_factors([date(2027, 6, 30)])[0]), rel=1e-9
    )


def test_cny_figures() -> None:
    """CNY: 1.5 % risk-free (China government bonds, 1-3 years), 2.0 % bank funding."""
    row = currency_defaults("CNY", field="risk_free_rate")
    assert (row.risk_free_rate, row.funding_rate) == (0.015, pytest.approx(0.02))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: valuation_service.market_for(AS_OF, "SGD"), "risk_free_rate"),
        (lambda: credit_service.funding_curve(AS_OF, "SGD"), "funding_rate"),
        (lambda: stress_book_service.market_grid(AS_OF, "SGD"), "currency"),
    ],
)
def test_a_currency_without_a_row_is_an_error_naming_what_to_give(call, field) -> None:
    with pytest.raises(ConventionError) as err:
        call()
    assert err.value.field == field
    assert "SGD" in str(err.value)


def test_a_given_rate_wins() -> None:
    assert _zero(valuation_service.market_for(AS_OF, "SGD", 0.03)) == pytest.approx(0.03)


def test_the_readme_table_is_the_table() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[1].endswith(" %") and cells[2].endswith(" %"):
            for ccy in cells[0].split(", "):
                shown[ccy] = (float(cells[1][:-2]) / 100, float(cells[2][:-2]) / 100)
    assert shown == {
        c: (pytest.approx(r.risk_free_rate), pytest.approx(r.funding_rate))
        for c, r in DEFAULT_MARKET_DATA.items()
    }
