"""Cash-flow tables: per class and period, base case and CDR / CPR / severity scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from products.cashflows import COLUMNS, deal_cashflows, scenario_deal
from products.spec import deal_from_dict
from valuation.errors import ConventionError


def _deal() -> object:
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e6,
            "annual_rate": 0.07,
            "tenor_months": 24,
            "amortization": "annuity",
            "pd": 0.02 + 0.01 * i,
            "recovery_rate": 0.4,
        }
        for i in range(4)
    ]
    return deal_from_dict(
        {
            "pool": {"loans": loans, "prepayment_rate": 0.05},
            "tranches": [
                {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.03},
                {"name": "B", "attach": 0.0, "detach": 0.2, "coupon": 0.06},
            ],
            "reserve": {"initial": 2e4},
            "principal_rule": "pro_rata",
            "triggers": {"oc_ratio": 1.0},
            "clean_up_call": 0.1,
        }
    )


def test_table_has_one_row_per_class_and_period_and_reconciles() -> None:
    deal = _deal()
    table, sc = deal_cashflows(deal, cdr=0.2, severity=0.7)
    assert isinstance(table, pd.DataFrame)
    assert tuple(table.columns) == COLUMNS
    assert sc.name == "custom"
    assert sc.cdr == 0.2
    assert sc.severity == 0.7
    assert sc.cpr == 0.05
    for name, rows in table.groupby("class", sort=False):
        face = next(t.balance for t in deal.tranches if t.name == name)
        # face = principal paid + write-downs + what is left (zero at the end)
        assert rows["principal_paid"].sum() + rows["writedown"].sum() == pytest.approx(
            face, rel=1e-9
        )
        pdl = (rows["writedown"] - rows["pdl_cure"]).cumsum().to_numpy()
        np.testing.assert_allclose(rows["pdl_balance"].to_numpy(), pdl, atol=1e-6)
        assert (rows["interest_paid"] <= rows["interest_due"].cumsum() + 1e-9).all()
    assert table["trigger"].str.contains("clean_up_call").any()
    assert table["writedown"].sum() > 0


def test_base_case_uses_the_pools_own_assumptions() -> None:
    deal = _deal()
    _, sc = scenario_deal(deal)
    assert sc.name == "base"
    assert sc.severity is None
    assert sc.cpr == 0.05
    assert sc.cdr == pytest.approx(np.mean([0.02, 0.03, 0.04, 0.05]), rel=1e-12)  # equal balances
    table, _ = deal_cashflows(deal, cdr=0.0, cpr=0.0)
    assert table["writedown"].sum() == 0.0
    assert table["pdl_balance"].max() == 0.0
    assert not table["trigger"].str.contains("oc_breach").any()


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"cdr": 1.0}, "cdr"), ({"cpr": -0.1}, "cpr"), ({"severity": 1.5}, "severity")],
)
def test_bad_scenario_names_the_field(kw: dict[str, float], field: str) -> None:
    with pytest.raises(ConventionError) as err:
        deal_cashflows(_deal(), **kw)
    assert err.value.field == field
