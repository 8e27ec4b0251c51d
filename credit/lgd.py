"""Loss given default: economic (from collateral on the default paths), regulatory, downturn.

Economic LGD
    On every Monte Carlo path where the borrower defaults, the bank recovers the
    collateral's value at the default month net of the liquidation cost, up to the
    exposure: ``loss = max(0, EAD - V_default (1 - c_liq) ) + workout_cost x EAD``.
    ``LGD = E[loss | default] / E[EAD | default]``. Because the same paths drive revenue
    (hence default) and value, collateral is weak exactly when the borrower defaults:
    wrong-way risk appears by itself. The LGD over all paths is reported alongside so
    the size of the effect is visible.

Regulatory LGD
    Under the foundation IRB approach data assets are not eligible collateral
    (CRE32.9-32.12 recognise financial receivables, real estate and other physical
    collateral only), so the senior unsecured LGD applies: 40 % for corporates, 45 %
    for financial-sector entities (CRE32.6), unless the user sets another figure.

Downturn LGD
    ``LGD_dt = 0.08 + 0.92 x LGD`` (the supervisory mapping function of the US Basel II
    proposal, Federal Register 71(185), 2006), or a user add-on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from valuation._typing import BoolArray, FloatArray
from valuation.errors import ConventionError

#: F-IRB senior unsecured LGD (CRE32.6).
FIRB_LGD_CORPORATE = 0.40
FIRB_LGD_FINANCIAL = 0.45
#: Supervisory downturn mapping ``a + b x LGD``.
DOWNTURN_INTERCEPT = 0.08
DOWNTURN_SLOPE = 0.92


def regulatory_lgd(*, financial_institution: bool = False, override: float | None = None) -> float:
    """F-IRB LGD for a data-collateralised loan: 40 % (45 % for financial institutions) unless overridden."""
    if override is not None:
        if not (isinstance(override, int | float) and 0.0 <= override <= 1.0):
            raise ConventionError(
                f"The `lgd` override must be a decimal in [0, 1]. Got {override!r}.", field="lgd"
            )
        return float(override)
    return FIRB_LGD_FINANCIAL if financial_institution else FIRB_LGD_CORPORATE


def downturn_lgd(lgd: float, *, add_on: float | None = None) -> float:
    """Downturn LGD: ``0.08 + 0.92 LGD`` by default, or ``min(1, LGD + add_on)``."""
    if not (isinstance(lgd, int | float) and 0.0 <= lgd <= 1.0):
        raise ConventionError(f"The `lgd` must be a decimal in [0, 1]. Got {lgd!r}.", field="lgd")
    if add_on is not None:
        if not (math.isfinite(add_on) and add_on >= 0):
            raise ConventionError(
                f"The `add_on` must be a non-negative decimal. Got {add_on!r}.", field="add_on"
            )
        return min(1.0, lgd + add_on)
    return DOWNTURN_INTERCEPT + DOWNTURN_SLOPE * lgd


@dataclass(frozen=True, slots=True)
class EconomicLgdResult:
    """``lgd``: conditional on default; ``lgd_all_paths``: same formula over every path (no wrong-way)."""

    lgd: float
    lgd_all_paths: float
    std_error: float
    n_default_paths: int
    downturn: bool


def economic_lgd(
    exposure: FloatArray | float,
    collateral_values: FloatArray,
    defaulted: BoolArray,
    *,
    liquidation_cost: float = 0.10,
    workout_cost: float = 0.0,
    downturn: bool = False,
    fallback: float | None = None,
) -> EconomicLgdResult:
    """LGD from collateral values on the default paths.

    Parameters
    ----------
    exposure : float or array (n_paths,)
        EAD at default on each path (e.g. outstanding balance at the default month).
    collateral_values : array (n_paths,)
        Collateral value at the default month on each path (value at the horizon on
        paths without default; used only for ``lgd_all_paths``).
    defaulted : bool array (n_paths,)
        Default indicator per path (from `credit.pd.pd_from_revenue`).
    liquidation_cost : float
        Fraction of the collateral value lost in disposal.
    workout_cost : float
        Collection costs as a fraction of EAD.
    downturn : bool
        Apply the downturn mapping to the result.
    fallback : float, optional
        LGD to use when no path defaults (default: ``lgd_all_paths``).
    """
    v = np.asarray(collateral_values, dtype=np.float64)
    d = np.asarray(defaulted, dtype=bool)
    if v.ndim != 1 or v.shape != d.shape or not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ConventionError(
            "The `collateral_values` must be finite, non-negative, one per path.",
            field="collateral_values",
        )
    ead = np.broadcast_to(np.asarray(exposure, dtype=np.float64), v.shape)
    if not np.all(np.isfinite(ead)) or np.any(ead <= 0):
        raise ConventionError("The `exposure` must be positive.", field="exposure")
    for name, x in (("liquidation_cost", liquidation_cost), ("workout_cost", workout_cost)):
        if not (math.isfinite(x) and 0.0 <= x <= 1.0):
            raise ConventionError(
                f"The `{name}` must be a decimal in [0, 1]. Got {x!r}.", field=name
            )
    loss = np.maximum(0.0, ead - v * (1.0 - liquidation_cost)) + workout_cost * ead
    loss = np.minimum(loss, ead)
    all_paths = float(loss.sum() / ead.sum())
    n_def = int(d.sum())
    if n_def:
        rate = loss[d] / ead[d]
        lgd = float(loss[d].sum() / ead[d].sum())
        se = float(rate.std(ddof=1) / math.sqrt(n_def)) if n_def > 1 else 0.0
    else:
        lgd = all_paths if fallback is None else float(fallback)
        se = 0.0
    if downturn:
        lgd = downturn_lgd(lgd)
    return EconomicLgdResult(
        lgd=lgd, lgd_all_paths=all_paths, std_error=se, n_default_paths=n_def, downturn=downturn
    )


def expected_loss(pd: float, lgd: float, ead: float) -> float:
    """EL = PD x LGD x EAD (currency of EAD)."""
    if not (0.0 <= pd <= 1.0) or not (0.0 <= lgd <= 1.0) or not (math.isfinite(ead) and ead >= 0):
        raise ConventionError(
            f"EL needs pd and lgd in [0, 1] and ead >= 0. Got pd={pd!r}, lgd={lgd!r}, ead={ead!r}.",
            field="pd",
        )
    return pd * lgd * ead
