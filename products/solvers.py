"""The solvers of a deal: the break-even default rate of a tranche and tranche sizing.

The constant default rate at which a tranche first loses (`break_even_cdr`), and the
attachment that meets a target expected loss (`size_attachment` on the large pool,
`size_deal_attachment` on the pool's own loss distribution at maturity, the static loss of
`products.static_loss`). The scenarios are in `products.scenarios`, the analytics in
`products.tranches`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import brentq

from products.pool_cashflows import pool_cashflows_from_survival
from products.recursion import check_rho
from products.scenarios import cdr_survival
from products.schedules import AssetSchedules, asset_schedules
from products.static_loss import pool_horizon_inputs
from products.structure import Deal
from products.waterfall import run_waterfall
from valuation._typing import FloatArray
from valuation.errors import CalibrationError, ConventionError

# ---------------------------------------------------------------------------------------------
# the solvers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BreakEven:
    """The break-even default rate of a tranche and the cumulative defaults it implies.

    The constant annual default rate at which a tranche first loses principal, and the cumulative
    defaults (over the initial pool balance) it implies.
    """

    tranche: str
    cdr: float
    cumulative_default: float


def _tranche_loss_at(
    deal: Deal, sched: AssetSchedules, k: int, cdr: float, index: FloatArray
) -> tuple[float, float]:
    s = cdr_survival(cdr, sched.n_periods)
    cf = pool_cashflows_from_survival(sched, s)
    wf = run_waterfall(deal, cf, index)
    return float(wf.writedown[0, k].sum() / deal.tranches[k].balance), float(
        cf.defaults.sum() / cf.initial_balance
    )


def break_even_cdr(
    deal: Deal, tranche: str | int, *, index_rate: float = 0.0, loss_threshold: float = 1e-6
) -> BreakEven:
    """First-loss default rate of a tranche by root finding (scipy ``brentq``).

    The tranche's write-down (fraction of face) is zero up to the break-even CDR; a grid
    of CDRs brackets the first crossing of ``loss(cdr) = loss_threshold`` (the waterfall
    need not make the loss monotone: triggers and excess spread can cut in), which
    ``brentq`` then refines. A tranche that never loses (even at CDR 99.99 %) gets
    ``cdr = 1.0``.
    """
    k = tranche if isinstance(tranche, int) else [t.name for t in deal.tranches].index(tranche)
    sched = asset_schedules(deal.pool)
    index = np.full(sched.n_periods, float(index_rate))
    grid = np.concatenate([np.linspace(0.0, 0.2, 41)[:-1], np.linspace(0.2, 0.9999, 81)])
    surv = cdr_survival(np.repeat(grid[:, None], sched.n_periods, axis=1), sched.n_periods)
    cf = pool_cashflows_from_survival(sched, surv)
    wf = run_waterfall(deal, cf, index)  # the whole grid at once, one scenario per CDR
    losses = wf.writedown[:, k].sum(axis=1) / deal.tranches[k].balance
    above = np.nonzero(losses > loss_threshold)[0]
    if above.size == 0:
        return BreakEven(
            deal.tranches[k].name, 1.0, float(cf.defaults[-1].sum() / cf.initial_balance)
        )
    first = int(above[0])
    if first == 0:
        return BreakEven(deal.tranches[k].name, 0.0, 0.0)
    lo, hi = float(grid[first - 1]), float(grid[first])
    root = brentq(
        lambda c: _tranche_loss_at(deal, sched, k, c, index)[0] - loss_threshold, lo, hi, xtol=1e-10
    )
    return BreakEven(
        deal.tranches[k].name, float(root), _tranche_loss_at(deal, sched, k, root, index)[1]
    )


def size_attachment(
    target_el: float, detach: float, *, pd: float, correlation: float, recovery: float
) -> float:
    """Size a tranche's attachment for a target expected loss (large pool).

    Attachment point giving a tranche ``[A, detach]`` the target expected loss (fraction of its
    face), large homogeneous pool (`credit.portfolio.vasicek_tranche_loss`), found by ``brentq``:
    the tranche EL falls as ``A`` rises.

    Raises
    ------
    CalibrationError
        When no attachment in ``[0, detach)`` reaches the target.
    """
    from credit.portfolio import vasicek_tranche_loss

    if not 0.0 < target_el < 1.0:
        raise ConventionError(
            f"The `target_el` must be in (0, 1). Got {target_el!r}.", field="target_el"
        )

    def f(a: float) -> float:
        return vasicek_tranche_loss(pd, correlation, recovery, a, detach) - target_el

    lo, hi = 0.0, detach * (1.0 - 1e-9)
    if f(lo) < 0.0:
        return 0.0  # the whole tranche from 0 already meets the target
    if f(hi) > 0.0:
        raise CalibrationError(
            f"No attachment below detach={detach} gives expected loss {target_el}; "
            "lower the target or raise the detachment.",
            field="target_el",
        )
    return float(brentq(f, lo, hi, xtol=1e-12))


def size_deal_attachment(
    deal: Deal,
    tranche: str | int,
    target_el: float,
    *,
    correlation: float,
    method: Literal["lhp", "recursion"] = "recursion",
) -> float:
    """Size a deal tranche's attachment for a target maturity expected loss.

    Attachment of a deal's tranche (keeping its detachment) for a target maturity EL, on the pool's
    loss distribution from `credit.portfolio` (recursion or large pool).
    """
    from credit.portfolio import loss_distribution, tranche_expected_loss

    k = tranche if isinstance(tranche, int) else [t.name for t in deal.tranches].index(tranche)
    detach = deal.tranches[k].detach
    pds, eads, lgds = pool_horizon_inputs(deal)
    total = float(eads.sum())
    if method == "lhp":
        return size_attachment(
            target_el,
            detach,
            pd=float(pds @ eads / total),
            correlation=correlation,
            recovery=1.0 - float(lgds @ eads / total),
        )
    ok = pds > 0
    losses, probs = loss_distribution(
        pds[ok],
        eads[ok],
        np.clip(lgds[ok], 1e-12, 1.0),
        check_rho(correlation),
        method="recursion",
    )
    x = losses / total

    def f(a: float) -> float:
        return tranche_expected_loss(x, probs, a, detach) - target_el

    lo, hi = 0.0, detach * (1.0 - 1e-9)
    if f(lo) < 0.0:
        return 0.0
    if f(hi) > 0.0:
        raise CalibrationError(
            f"No attachment below detach={detach} gives expected loss {target_el}.",
            field="target_el",
        )
    return float(brentq(f, lo, hi, xtol=1e-12))
