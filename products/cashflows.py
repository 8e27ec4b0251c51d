"""A deal's cash flows per class and period for one scenario, as a pandas DataFrame.

`deal_cashflows` runs the priority of payments (`products.waterfall.run_waterfall`) on a
deterministic scenario and `cashflow_table` lays the result out long: one row per class and
period with ``interest_due``, ``interest_paid``, ``principal_paid``, ``writedown``,
``pdl_cure``, ``pdl_balance``, ``note_balance``, ``reserve`` (deal level, at period end) and
``trigger`` (deal level: the tests in force that period). This is the investor-report
layout of Moody's / KBRA surveillance and of absbox's bond cash-flow tables.

Scenarios (annual rates as decimals):

* ``base`` -- the pool's own assumptions: a constant default rate equal to the pool's
  balance-weighted annual PD, its prepayment rate (CPR) and each asset's own recovery;
* any of ``cdr``, ``cpr``, ``severity`` given replaces that part of the base (``severity``
  is the loss given default of every asset, ``1 - recovery``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from products.pool_cashflows import pool_cashflows_from_survival
from products.scenarios import cdr_survival
from products.schedules import asset_schedules
from products.structure import Deal
from products.waterfall import WaterfallResult, run_waterfall
from valuation._typing import FloatArray
from valuation.conventions import add_months
from valuation.errors import ConventionError
from valuation.market import MarketData

#: Columns of `cashflow_table`, in order.
COLUMNS: tuple[str, ...] = (
    "class",
    "period",
    "date",
    "interest_due",
    "interest_paid",
    "principal_paid",
    "writedown",
    "pdl_cure",
    "pdl_balance",
    "note_balance",
    "reserve",
    "trigger",
)


@dataclass(frozen=True, slots=True)
class CashflowScenario:
    """The deterministic scenario a table was run on (annual decimals)."""

    name: str
    cdr: float
    cpr: float
    severity: float | None  # None: each asset's own recovery


def _rate(value: float | None, name: str, *, hi_open: bool) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConventionError(
            f"The `{name}` must be a decimal annual rate. Got {value!r}.", field=name
        )
    v = float(value)
    if v < 0.0 or v > 1.0 or (hi_open and v == 1.0):
        rule = "in [0, 1)" if hi_open else "in [0, 1]"
        raise ConventionError(f"The `{name}` must be {rule}. Got {value!r}.", field=name)
    return v


def scenario_deal(
    deal: Deal, *, cdr: float | None = None, cpr: float | None = None, severity: float | None = None
) -> tuple[Deal, CashflowScenario]:
    """Apply a scenario's prepayment rate and severity to the deal.

    The deal with the scenario's prepayment rate and severity, and the scenario itself (``base``
    when nothing is given).
    """
    cdr_v = _rate(cdr, "cdr", hi_open=True)
    cpr_v = _rate(cpr, "cpr", hi_open=True)
    sev_v = _rate(severity, "severity", hi_open=False)
    name = "base" if cdr_v is None and cpr_v is None and sev_v is None else "custom"
    pool = deal.pool
    if cpr_v is not None:
        pool = replace(pool, prepayment_rate=cpr_v)
    if sev_v is not None:
        pool = replace(
            pool,
            loans=tuple(replace(x, recovery_rate=1.0 - sev_v) for x in pool.loans),
            receivables=tuple(replace(r, recovery_rate=1.0 - sev_v) for r in pool.receivables),
        )
    out = replace(deal, pool=pool)
    if cdr_v is None:
        sched = asset_schedules(out.pool)
        bal = sched.balance[:, 0]
        cdr_v = float(bal @ sched.pd / bal.sum()) if bal.sum() > 0 else 0.0
    return out, CashflowScenario(name, cdr_v, float(pool.prepayment_rate), sev_v)


def run_scenario(
    deal: Deal, scenario: CashflowScenario, index_rates: FloatArray | None = None
) -> WaterfallResult:
    """Run the waterfall on the scenario's constant default rate (one scenario)."""
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_survival(sched, cdr_survival(scenario.cdr, sched.n_periods))
    return run_waterfall(deal, cf, index_rates)


def _trigger_labels(deal: Deal, wf: WaterfallResult, s: int) -> list[str]:
    out = []
    for t in range(wf.collections.shape[1]):
        parts = []
        if wf.oc_breached[s, t]:
            parts.append("oc_breach")
        if wf.sequential[s, t] and deal.principal_rule == "pro_rata":
            parts.append("sequential")
        if wf.rapid_amortisation[s, t]:
            parts.append("rapid_amortisation")
        if wf.trap_fraction[s, t] > 0.0:
            parts.append(f"trap {wf.trap_fraction[s, t]:.0%}")
        if wf.sweep_fraction[s, t] > 0.0 and not wf.rapid_amortisation[s, t]:
            parts.append(f"sweep {wf.sweep_fraction[s, t]:.0%}")
        if wf.called[s, t]:
            parts.append("clean_up_call")
        out.append(";".join(parts))
    return out


def cashflow_table(
    deal: Deal, wf: WaterfallResult, *, scenario: int = 0, start: date | None = None
) -> pd.DataFrame:
    """Lay out one scenario of a waterfall result as a long DataFrame.

    The columns are `COLUMNS`, classes senior first, periods 1..T; ``date`` is ``start +
    period months`` (the pool's cut-off date by default; empty without one).
    """
    t_max = wf.interest_due.shape[2]
    start = start or deal.pool.cut_off_date
    dates = [add_months(start, m) for m in range(1, t_max + 1)] if start else [None] * t_max
    labels = _trigger_labels(deal, wf, scenario)
    s = scenario
    frames = []
    for k, tr in enumerate(deal.tranches):
        frames.append(
            pd.DataFrame(
                {
                    "class": tr.name,
                    "period": np.arange(1, t_max + 1),
                    "date": dates,
                    "interest_due": wf.interest_due[s, k],
                    "interest_paid": wf.interest_paid[s, k],
                    "principal_paid": wf.principal_paid[s, k],
                    "writedown": wf.writedown[s, k],
                    "pdl_cure": wf.pdl_cure[s, k],
                    "pdl_balance": wf.pdl_balance[s, k],
                    "note_balance": wf.note_balance[s, k],
                    "reserve": wf.reserve_end[s],
                    "trigger": labels,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def curve_index(market: MarketData, start: date, n_periods: int) -> FloatArray:
    """Return the floating index per month: the curve's monthly forwards from ``start``."""
    df = market.discount_factors(
        [add_months(start, m) for m in range(1, n_periods + 1)],
        from_date=start if start > market.as_of else None,
    )
    prev = np.concatenate([[1.0], df[:-1]])
    return (prev / df - 1.0) * 12.0


def deal_cashflows(
    deal: Deal,
    *,
    cdr: float | None = None,
    cpr: float | None = None,
    severity: float | None = None,
    index_rates: FloatArray | None = None,
    start: date | None = None,
    market: MarketData | None = None,
) -> tuple[pd.DataFrame, CashflowScenario]:
    """Per-class, per-period cash flows of the deal under one scenario.

    The scenario is the base case or the given CDR / CPR / severity (see the module
    docstring).

    Examples
    --------
    >>> from products.spec import deal_from_dict
    >>> deal = deal_from_dict({
    ...     "pool": {"loans": [{"loan_id": "L", "balance": 1e6, "annual_rate": 0.06,
    ...                         "tenor_months": 12, "pd": 0.02}]},
    ...     "tranches": [{"name": "A", "attach": 0.0, "detach": 1.0, "coupon": 0.03}]})
    >>> table, scenario = deal_cashflows(deal, cdr=0.0)
    >>> round(float(table["principal_paid"].sum()), 6), scenario.name
    (1000000.0, 'custom')

    ``market`` (optional) gives floating classes the curve's forwards as their index; without
    it (and without ``index_rates``) the index is zero.
    """
    d, sc = scenario_deal(deal, cdr=cdr, cpr=cpr, severity=severity)
    if index_rates is None and market is not None:
        first = start or deal.pool.cut_off_date or market.as_of
        index_rates = curve_index(market, first, asset_schedules(d.pool).n_periods)
    wf = run_scenario(d, sc, index_rates)
    return cashflow_table(d, wf, start=start), sc
