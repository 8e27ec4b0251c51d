"""A stress book from booked records, in the core: no database, no service."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from risk.adapters import asset_from_revenue
from risk.booking import (
    LoanRecord,
    PledgeRecord,
    SecuritizationRecord,
    TrancheRecord,
    assemble_book,
    book_currency,
    pledge_shares,
)

AS_OF = date(2025, 7, 1)


def _loan(lid: str, **over: object) -> LoanRecord:
    base: dict[str, object] = {
        "id": lid,
        "currency": "CNY",
        "principal": 1e6,
        "annual_rate": 0.06,
        "start_date": date(2025, 1, 1),
        "tenor_months": 24,
        "amortization": "annuity",
        "frequency_months": 1,
        "day_count": "ACT/365F",
        "calendar": None,
        "ead": 1e6,
        "pd": 0.02,
        "lgd": 0.4,
        "lgd_regulatory": 0.45,
        "expected_loss": 8e3,
        "capital": 9e4,
    }
    base.update(over)
    return LoanRecord(**base)  # type: ignore[arg-type]


def _asset(aid: str):
    revenue = 1e5 * np.exp(np.linspace(0.0, 0.3, 24))
    return asset_from_revenue(
        asset_id=aid,
        category="finance",
        currency="CNY",
        revenue=revenue,
        cross_border=False,
        half_life_months=36,
    )


def test_the_currency_of_most_loans() -> None:
    loans = [_loan("1", currency="USD"), _loan("2"), _loan("3")]
    assert book_currency(loans) == "CNY"
    assert book_currency([]) == "CNY"


def test_pledge_shares_never_exceed_the_asset() -> None:
    shares = pledge_shares(
        [
            PledgeRecord("1", "7", amount=600.0, lending_value=1000.0),
            PledgeRecord("2", "7", amount=500.0, lending_value=1000.0),  # 1.1 by rounding
            PledgeRecord("3", "8", amount=10.0, lending_value=0.0),
        ]
    )
    assert shares["1"]["7"] + shares["2"]["7"] == pytest.approx(1.0)
    assert shares["1"]["7"] / shares["2"]["7"] == pytest.approx(6 / 5)
    assert shares["3"]["8"] is None


def test_loans_enter_at_their_outstanding_balance_and_say_what_is_left_out() -> None:
    loans = [
        _loan("1"),
        _loan("2", start_date=date(2022, 1, 1), tenor_months=12),  # matured in 2023
        _loan("3", currency="USD"),
    ]
    built = assemble_book(
        as_of=AS_OF,
        currency="CNY",
        assets=[_asset("7")],
        loans=loans,
        pledges=[PledgeRecord("1", "7", 500.0, 1000.0), PledgeRecord("1", "9", 1.0, 2.0)],
    )
    (loan,) = built.book.loans
    assert loan.id == "1"
    # six annuity payments of a 24-month loan made by 1 July: about 76 % outstanding
    assert 0.74 < loan.principal / 1e6 < 0.78
    assert loan.ead == pytest.approx(loan.principal)
    assert dict(loan.collateral) == {"7": 0.5}  # asset 9 is not in the book
    assert any("loan 2 left out: matured" in n for n in built.notes)
    assert any("loan 3 left out" in n and "USD" in n for n in built.notes)
    assert built.booked == {"ead": 1e6, "expected_loss": 8e3, "capital": 9e4}


def test_tranches_enter_with_the_pooled_loans_of_the_book() -> None:
    deal = SecuritizationRecord(
        "5",
        ("1", "99"),
        (
            TrancheRecord("A", 0.2, 1.0, 8e5, coupon=0.03),
            TrancheRecord("B", 0.0, 0.2, 2e5, spread_bp=400.0),
        ),
    )
    other = SecuritizationRecord("6", ("98",), (TrancheRecord("A", 0.0, 1.0, 1e5, 0.02),))
    built = assemble_book(
        as_of=AS_OF,
        currency="CNY",
        assets=[],
        loans=[_loan("1")],
        pledges=[],
        securitizations=[deal, other],
    )
    a, b = built.book.tranches
    assert (a.id, a.loan_ids, a.coupon) == ("5:A", ("1",), 0.03)
    assert b.coupon == pytest.approx(0.04)  # a floating class: its spread
    assert a.maturity_years == pytest.approx(built.book.loans[0].maturity_years)
    assert any("securitization 6 left out" in n for n in built.notes)
