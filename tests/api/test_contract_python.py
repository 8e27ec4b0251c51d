"""The API contract's Python table: the entry points exist, importable without the server, with the
parameter names and defaults the contract lists, and return what it says."""

from __future__ import annotations

import importlib
import inspect
from datetime import date

import numpy as np
import pandas as pd
import pytest

EMPTY = inspect.Parameter.empty

# (module, function, [(parameter, default, or EMPTY where the API contract states none), ...]):
# the leading parameters, in order
SIGNATURES = [
    (
        "credit.capital",
        "irb_capital",
        [("pd", EMPTY), ("lgd", EMPTY), ("maturity_years", 2.5), ("sales_meur", None)],
    ),
    (
        "credit.portfolio",
        "vasicek_tranche_loss",
        [("pd", EMPTY), ("rho", EMPTY), ("recovery", EMPTY), ("attach", EMPTY), ("detach", EMPTY)],
    ),
    (
        "credit.portfolio",
        "loss_distribution",
        [("pds", EMPTY), ("eads", EMPTY), ("lgds", EMPTY), ("rho", EMPTY), ("method", "recursion")],
    ),
    (
        "credit.loans",
        "schedule",
        [
            ("principal", EMPTY),
            ("annual_rate", EMPTY),
            ("start_date", EMPTY),
            ("tenor_months", EMPTY),
            ("amortization", EMPTY),
            ("frequency_months", 1),
            ("day_count", "ACT/365F"),
            ("calendar", None),
        ],
    ),
    ("credit.loans", "schedules", [("loans", EMPTY)]),
    (
        "credit.collateral",
        "supervisory_haircut",
        [("h_m", EMPTY), ("t_m_days", EMPTY), ("n_r_days", EMPTY)],
    ),
    (
        "products.capital",
        "sec_sa_risk_weight",
        [
            ("k_sa", EMPTY),
            ("w", EMPTY),
            ("attach", EMPTY),
            ("detach", EMPTY),
            ("p", 1.0),
            ("unknown_w_share", 0.0),
        ],
    ),
    (
        "valuation",
        "value_asset",
        [
            ("signals", EMPTY),
            ("costs", EMPTY),
            ("comparables", EMPTY),
            ("asset", EMPTY),
            ("as_of", EMPTY),
            ("market", EMPTY),
            ("paths", EMPTY),
            ("seed", EMPTY),
        ],
    ),
]


@pytest.mark.parametrize(
    ("module", "name", "expected"), SIGNATURES, ids=[f"{m}.{n}" for m, n, _ in SIGNATURES]
)
def test_python_entry_points_keep_their_signature(module, name, expected) -> None:
    fn = getattr(importlib.import_module(module), name)
    params = list(inspect.signature(fn).parameters.values())[: len(expected)]
    assert [p.name for p in params] == [name for name, _ in expected]
    # defaults the contract states must be kept (a default where it states none is an addition)
    stated = [
        (p.name, p.default)
        for p, (_, default) in zip(params, expected, strict=True)
        if default is not EMPTY
    ]
    assert stated == [(name, default) for name, default in expected if default is not EMPTY]


def test_python_entry_points_return_what_the_contract_says() -> None:
    from credit.capital import irb_capital
    from credit.collateral import supervisory_haircut
    from credit.loans import schedule, schedules
    from credit.portfolio import loss_distribution, vasicek_tranche_loss
    from products.capital import sec_sa_risk_weight

    k = irb_capital(0.01, 0.45)
    assert 0.0 < k < 1.0  # K per unit of EAD, a decimal
    el = vasicek_tranche_loss(0.02, 0.15, 0.4, 0.03, 0.07)
    assert 0.0 <= el <= 1.0  # a fraction of tranche notional
    losses, probs = loss_distribution(np.full(10, 0.02), np.full(10, 1e6), 0.45, 0.2)
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    assert float(np.dot(losses, probs)) == pytest.approx(
        10 * 0.02 * 0.45 * 1e6, rel=1e-3
    )  # units of eads
    df = schedule(1_000_000, 0.06, date(2025, 1, 15), 12, "annuity")
    assert list(df.columns)[:4] == ["date", "interest", "principal", "balance"]
    many = schedules(
        pd.DataFrame(
            {
                "loan_id": ["a", "b"],
                "principal": [1e6, 2e6],
                "annual_rate": [0.06, 0.05],
                "start_date": [date(2025, 1, 15)] * 2,
                "tenor_months": [12, 6],
                "amortization": ["annuity", "bullet"],
                "frequency_months": [1, 1],
                "day_count": ["ACT/365F"] * 2,
            }
        )
    )
    assert list(many.columns)[:5] == ["loan_id", "date", "interest", "principal", "balance"]
    assert len(many) == 18
    assert supervisory_haircut(0.15, 10, 20) == pytest.approx(0.15 * np.sqrt((20 + 10 - 1) / 10))
    assert sec_sa_risk_weight(0.09, 0.06, 0.05, 0.25, unknown_w_share=0.01) == pytest.approx(
        9.538, abs=5e-4
    )
