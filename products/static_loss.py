"""The static (maturity) tranche loss of a deal: the pool's loss at maturity, tranched.

Each tranche's expected loss on the pool loss at the assets' maturity, without excess
spread, triggers or timing, E[min((L - A)^+, D - A)] / (D - A): the large-pool closed
form (`credit.portfolio.vasicek_tranche_loss`, Vasicek) or the exact finite-pool
distribution (`credit.portfolio.loss_distribution`, Andersen-Sidenius-Basu). It is the
control variate of the stratified engine (`products.tranches.analyze_stratified`) and the
measure the sizing solvers target (`products.solvers`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from credit.portfolio import loss_distribution, tranche_expected_loss, vasicek_tranche_loss
from products.recursion import check_rho, hazard_rates
from products.schedules import asset_schedules
from products.structure import Deal
from valuation._typing import FloatArray
from valuation.errors import ConventionError


def pool_horizon_inputs(deal: Deal) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(PD over each asset's term, balance, LGD) of the pool's assets."""
    sched = asset_schedules(deal.pool)
    pds = -np.expm1(-hazard_rates(sched.pd) * sched.tenor_months / 12.0)
    return pds, sched.balance[:, 0].copy(), 1.0 - sched.recovery_rate


def static_tranche_expected_loss(
    deal: Deal, correlation: float, method: Literal["lhp", "recursion"] = "recursion"
) -> FloatArray:
    """Return each tranche's expected loss on the pool loss at maturity.

    Expected loss (fraction of face) of each tranche on the pool loss at maturity, without excess
    spread or timing: ``E[min((L - A)^+, D - A)] / (D - A)``.

    ``lhp`` uses `credit.portfolio.vasicek_tranche_loss` with the balance-weighted PD and
    recovery; ``recursion`` the exact distribution from `credit.portfolio.loss_distribution`.
    """
    rho = check_rho(correlation)
    pds, eads, lgds = pool_horizon_inputs(deal)
    total = float(eads.sum())
    if method == "lhp":
        pd = float(pds @ eads / total)
        rec = 1.0 - float(lgds @ eads / total)
        return np.array(
            [vasicek_tranche_loss(pd, rho, rec, t.attach, t.detach) for t in deal.tranches]
        )
    if method != "recursion":
        raise ConventionError(
            f"The `method` must be 'lhp' or 'recursion'. Got {method!r}.", field="method"
        )
    ok = pds > 0
    losses, probs = loss_distribution(
        pds[ok], eads[ok], np.clip(lgds[ok], 1e-12, 1.0), rho, method="recursion"
    )
    return np.array(
        [tranche_expected_loss(losses / total, probs, t.attach, t.detach) for t in deal.tranches]
    )
