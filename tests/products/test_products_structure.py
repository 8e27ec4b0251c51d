"""Deal specs: validation naming the field, presets and trigger thresholds (KBRA vectors)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from products.pool import PoolLoan
from products.pool_cashflows import PoolCashflows
from products.spec import deal_from_dict
from products.structure import (
    MUSIC_ROYALTY_DSCR_TRAP,
    WHOLE_BUSINESS_RAPID_AMORTISATION_DSCR,
    WHOLE_BUSINESS_SWEEP,
    Triggers,
)
from products.waterfall import run_waterfall, run_waterfall_reference
from valuation.errors import ConventionError

DATA = Path(__file__).resolve().parents[1] / "data" / "products"
TRIGGERS = json.loads((DATA / "triggers.json").read_text())


def base_spec() -> dict[str, Any]:
    return {
        "pool": {
            "loans": [
                {"loan_id": "L1", "balance": 6e6, "annual_rate": 0.06, "tenor_months": 12},
                {
                    "loan_id": "L2",
                    "balance": 4e6,
                    "annual_rate": 0.05,
                    "tenor_months": 24,
                    "amortization": "bullet",
                },
            ]
        },
        "tranches": [
            {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.03},
            {"name": "B", "attach": 0.1, "detach": 0.2, "spread_bp": 250},
            {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.08},
        ],
    }


def test_attach_detach_give_balances() -> None:
    deal = deal_from_dict(base_spec())
    assert [t.balance for t in deal.tranches] == pytest.approx([8e6, 1e6, 1e6], rel=1e-12)
    assert deal.tranches[1].is_floating
    assert deal.tranches[1].market_spread_bp == 250.0


def test_balances_give_attachment_points_from_the_top() -> None:
    spec = base_spec()
    spec["advance_rate"] = 0.65
    spec["tranches"] = [
        {"name": "A", "balance": 5e6, "coupon": 0.04},
        {"name": "B", "balance": 1.5e6, "coupon": 0.06},
    ]
    deal = deal_from_dict(spec)  # 35 % overcollateralisation takes the first loss
    assert (deal.tranches[0].attach, deal.tranches[0].detach) == pytest.approx((0.5, 1.0))
    assert (deal.tranches[1].attach, deal.tranches[1].detach) == pytest.approx((0.35, 0.5))


def _mutate(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(base_spec())
    target: Any = spec
    keys = path.replace("]", "").replace("[", ".").split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    target[int(last) if last.isdigit() else last] = value
    return spec


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("tranches[1].detach", 0.25, "tranches[1].detach"),  # overlaps class A
        ("tranches[2].attach", 0.15, "tranches[2].attach"),  # attach > detach
        ("pool.loans[0].balance", -1.0, "pool.loans[0].balance"),  # negative balance
        ("pool.loans[1].tenor_months", 0, "pool.loans[1].tenor_months"),
        ("pool.loans[0].amortization", "balloon", "pool.loans[0].amortization"),
        ("tranches[0].coupon", None, "tranches[0].coupon"),  # neither coupon nor spread
        ("principal_rule", "turbo", "principal_rule"),
        ("advance_rate", 1.5, "advance_rate"),
        ("tranches[1].detach", 0.15, "tranches[1].detach"),  # gap between A and B
        ("tranches[0].detach", 0.9, "tranches[0].detach"),  # senior must take the top
    ],
)
def test_bad_structures_name_the_field(path: str, value: Any, field: str) -> None:
    with pytest.raises(ConventionError) as err:
        deal_from_dict(_mutate(path, value))
    assert err.value.field == field
    assert field.split(".")[-1].split("[")[0] in str(err.value)


def test_negative_tranche_balance_names_the_field() -> None:
    spec = base_spec()
    spec["tranches"] = [{"name": "A", "balance": -5.0, "coupon": 0.03}]
    with pytest.raises(ConventionError) as err:
        deal_from_dict(spec)
    assert err.value.field == "tranches[0].balance"


def test_unknown_loan_id_names_the_position() -> None:
    book = {"L1": PoolLoan("L1", 1e6, 0.05, 12), "L2": PoolLoan("L2", 1e6, 0.05, 12)}
    spec = base_spec()
    spec["pool"] = {"loan_ids": ["L1", "L2", "L9"]}
    with pytest.raises(ConventionError) as err:
        deal_from_dict(spec, loan_book=book)
    assert err.value.field == "pool.loan_ids[2]"
    spec["pool"] = {"loan_ids": ["L1", "L2"]}
    assert deal_from_dict(spec, loan_book=book).pool_balance == pytest.approx(2e6)


def test_notes_above_borrowing_base_rejected() -> None:
    spec = base_spec()
    spec["advance_rate"] = 0.65  # notes cover 100 % of the pool: above 65 %
    with pytest.raises(ConventionError) as err:
        deal_from_dict(spec)
    assert err.value.field == "tranches"


def test_music_royalty_trap_vectors_exact() -> None:
    case = TRIGGERS["music_royalty_dscr_cash_trap"]
    trig = Triggers(dscr=(MUSIC_ROYALTY_DSCR_TRAP,))
    for v in case["vectors"]:
        assert trig.trap_fraction(v["dscr"]) == v["trap"], v
        assert trig.sweep_fraction(v["dscr"]) == 0.0


def test_whole_business_sweep_and_rapid_amortisation_vectors_exact() -> None:
    case = TRIGGERS["whole_business_cash_sweep"]
    trig = Triggers(
        dscr=(WHOLE_BUSINESS_SWEEP,), rapid_amortisation_dscr=WHOLE_BUSINESS_RAPID_AMORTISATION_DSCR
    )
    for v in case["vectors"]:
        assert trig.sweep_fraction(v["dscr"]) == v["sweep"], v
        assert trig.rapid_amortisation(v["dscr"]) is v["rapid_amortisation"], v


def _dscr_deal(trigger_spec: dict[str, Any]) -> Any:
    """One-month interest-only pool paying 1,000 of interest; one note with interest due 100,
    so DSCR = (interest collections) / 100 is set by the month's interest collections."""
    spec = {
        "pool": {
            "loans": [
                {
                    "loan_id": "L",
                    "balance": 1.2e6,
                    "annual_rate": 0.01,
                    "tenor_months": 3,
                    "amortization": "bullet",
                }
            ]
        },
        "tranches": [{"name": "A", "balance": 1.2e5, "coupon": 0.01}],
        "triggers": trigger_spec,
    }
    return deal_from_dict(spec)


def _one_period_cf(interest: list[float], n_periods: int = 3) -> PoolCashflows:
    n = len(interest)
    z = np.zeros((n, n_periods))
    inte = np.zeros((n, n_periods))
    inte[:, 0] = interest
    bal = np.full((n, n_periods), 1.2e6)
    bal[:, -1] = 0.0
    prin = np.zeros((n, n_periods))
    prin[:, -1] = 1.2e6
    return PoolCashflows(inte, prin, z, z, z, bal, z, 1.2e6, np.full(n, 1.0 / n))


def test_waterfall_traps_at_the_published_music_royalty_thresholds() -> None:
    case = TRIGGERS["music_royalty_dscr_cash_trap"]
    deal = _dscr_deal(
        {
            "dscr": [
                {
                    "action": "trap",
                    "tiers": [
                        {"threshold": 1.40, "fraction": 0.5},
                        {"threshold": 1.30, "fraction": 1.0},
                    ],
                }
            ]
        }
    )
    note_interest = 1.2e5 * 0.01 / 12.0  # 100
    dscrs = [v["dscr"] for v in case["vectors"]]
    cf = _one_period_cf([d * note_interest for d in dscrs])
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        np.testing.assert_allclose(wf.dscr[:, 0], dscrs, rtol=1e-12)
        for i, v in enumerate(case["vectors"]):
            assert wf.trap_fraction[i, 0] == v["trap"]
            excess = cf.interest[i, 0] - note_interest
            assert wf.reserve_end[i, 0] == pytest.approx(v["trap"] * excess, rel=1e-12, abs=1e-9)
            assert wf.residual[i, 0] == pytest.approx((1 - v["trap"]) * excess, rel=1e-12, abs=1e-9)


def test_waterfall_sweeps_and_rapid_amortises_at_the_published_thresholds() -> None:
    case = TRIGGERS["whole_business_cash_sweep"]
    deal = _dscr_deal(
        {
            "dscr": [
                {
                    "action": "sweep",
                    "tiers": [
                        {"threshold": 2.0, "fraction": 0.25},
                        {"threshold": 1.75, "fraction": 0.5},
                        {"threshold": 1.5, "fraction": 0.75},
                    ],
                }
            ],
            "rapid_amortisation_dscr": 1.2,
        }
    )
    note_interest = 100.0
    dscrs = [v["dscr"] for v in case["vectors"]]
    cf = _one_period_cf([d * note_interest for d in dscrs])
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        for i, v in enumerate(case["vectors"]):
            excess = cf.interest[i, 0] - note_interest
            rapid = v["rapid_amortisation"]
            assert bool(wf.rapid_amortisation[i, 0]) is rapid
            swept = excess if rapid else v["sweep"] * excess
            assert wf.sweep_fraction[i, 0] == (1.0 if rapid else v["sweep"])
            assert wf.principal_paid[i, 0, 0] == pytest.approx(swept, rel=1e-12, abs=1e-9)


def test_overcollateralisation_takes_the_first_loss() -> None:
    """Notes at 65 % of the pool (music-royalty advance rate): a class loses only once the
    pool has lost the 35 % below it, exactly where its attachment point says."""
    from products.pool_cashflows import pool_cashflows_from_default_periods
    from products.schedules import asset_schedules

    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e6,
            "annual_rate": 0.0,
            "tenor_months": 12,
            "amortization": "bullet",
            "pd": 0.1,
            "recovery_rate": 0.0,
        }
        for i in range(10)
    ]
    deal = deal_from_dict(
        {
            "pool": {"loans": loans},
            "advance_rate": 0.65,
            "tranches": [
                {"name": "A", "balance": 5e6, "coupon": 0.0},
                {"name": "B", "balance": 1.5e6, "coupon": 0.0},
            ],
        }
    )
    sched = asset_schedules(deal.pool)
    d = np.zeros((3, 10), dtype=np.int64)
    d[0, :3] = 1  # 30 % pool loss: inside the overcollateralisation
    d[1, :4] = 1  # 40 %: B loses 5 % of the pool
    d[2, :6] = 1  # 60 %: B gone, A loses 10 % of the pool
    wf = run_waterfall(deal, pool_cashflows_from_default_periods(sched, d))
    lost = wf.writedown.sum(axis=2)
    np.testing.assert_allclose(lost, [[0.0, 0.0], [0.0, 0.5e6], [1e6, 1.5e6]], atol=1e-6)
    for k, t in enumerate(deal.tranches):
        pool_loss = np.array([0.3, 0.4, 0.6])
        np.testing.assert_allclose(
            lost[:, k], np.clip(pool_loss - t.attach, 0, t.detach - t.attach) * 1e7, atol=1e-6
        )


def test_classes_may_be_listed_in_any_order() -> None:
    spec = base_spec()
    spec["tranches"] = list(reversed(spec["tranches"]))  # junior first
    deal = deal_from_dict(spec)
    assert [t.name for t in deal.tranches] == ["A", "B", "E"]
    spec["tranches"][0]["detach"] = 0.15  # E (listed first) now overlaps B
    with pytest.raises(ConventionError) as err:
        deal_from_dict(spec)
    assert err.value.field == "tranches[0].detach"


def test_cash_basis_dscr_for_royalty_receivables() -> None:
    """Music-royalty style: receivables (income collateral), notes at 65 % of the value, a
    12-month interest reserve and DSCR = (collections - fees) / (interest + principal due)."""
    from products.pool_cashflows import pool_cashflows_from_default_periods
    from products.schedules import asset_schedules

    recs = [{"receivable_id": f"R{i}", "cashflows": [100_000.0] * 60, "pd": 0.0} for i in range(5)]
    deal = deal_from_dict(
        {
            "pool": {"receivables": recs, "discount_rate": 0.07},
            "advance_rate": 0.65,
            "tranches": [{"name": "A", "attach": 0.35, "detach": 1.0, "coupon": 0.05}],
            "senior_fee_rate": 0.01,
            "reserve": {"interest_months": 12},
            "triggers": {
                "dscr_basis": "cash",
                "dscr": [
                    {
                        "action": "trap",
                        "tiers": [
                            {"threshold": 1.40, "fraction": 0.5},
                            {"threshold": 1.30, "fraction": 1.0},
                        ],
                    }
                ],
            },
        }
    )
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_default_periods(sched, np.zeros((1, 5), dtype=np.int64))
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        notes0 = deal.tranches[0].balance
        fee = 0.01 / 12 * cf.initial_balance
        due = notes0 * 0.05 / 12
        principal_due = max(notes0 - 0.65 * cf.balance[0, 0], 0.0)
        expected = (cf.collections[0, 0] - fee) / (due + principal_due)
        assert wf.dscr[0, 0] == pytest.approx(expected, rel=1e-12)
        assert np.abs(wf.cash_imbalance()).max() < 1e-6
        assert wf.note_balance[0, 0, -1] == pytest.approx(0.0, abs=1e-6)
        assert wf.writedown.sum() == 0.0


def test_music_royalty_interest_reserve_holds_twelve_months_of_interest() -> None:
    from products.pool_cashflows import pool_cashflows_from_default_periods
    from products.schedules import asset_schedules
    from products.structure import MUSIC_ROYALTY_ADVANCE_RATE, MUSIC_ROYALTY_RESERVE_MONTHS

    recs = [{"receivable_id": f"R{i}", "cashflows": [400_000.0] * 48, "pd": 0.0} for i in range(4)]
    deal = deal_from_dict(
        {
            "pool": {"receivables": recs, "discount_rate": 0.07},
            "advance_rate": MUSIC_ROYALTY_ADVANCE_RATE,
            "tranches": [
                {
                    "name": "A",
                    "attach": 1 - MUSIC_ROYALTY_ADVANCE_RATE,
                    "detach": 1.0,
                    "coupon": 0.05,
                }
            ],
            "reserve": {"interest_months": MUSIC_ROYALTY_RESERVE_MONTHS},
            "triggers": {"dscr_basis": "cash"},
        }
    )
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_default_periods(sched, np.zeros((1, 4), dtype=np.int64))
    wf = run_waterfall(deal, cf)
    target = 12 * wf.interest_due[0, 0]
    # built from the cash left after interest and principal, then kept at 12 months of coupon
    funded = np.nonzero(np.isclose(wf.reserve_end[0], target, rtol=1e-12))[0]
    first = int(funded[0])
    assert 0 < first < 6
    assert (np.diff(wf.reserve_end[0, : first + 1]) > 0).all()
    assert (wf.residual[0, :first] == 0.0).all()  # nothing released while the reserve builds
    np.testing.assert_allclose(wf.reserve_end[0, first:-1], target[first:-1], rtol=1e-12)
    assert wf.reserve_end[0, -1] == 0.0
    # the notes stay within the borrowing base: 65 % of the remaining collateral
    assert (wf.note_balance[0, 0] <= MUSIC_ROYALTY_ADVANCE_RATE * cf.balance[0] + 1e-6).all()
