"""Regulatory capital for securitisation tranches: the Basel standardised approach (SEC-SA).

The formulas follow the Basel Framework, CRE40.42-40.49 (securitisation standardised
approach, as revised in 2014/2016 and applied since 2018):

* ``K_A = (1 - W) K_SA + 0.5 W`` -- the pool's capital charge adjusted for delinquencies
  (``W``: share of the pool 90+ days delinquent, in default, foreclosed or restructured).
* If the delinquency status of up to 5 % of the pool is unknown, that part is charged in
  full (CRE40.43): ``K_A = (1 - u) K_A(known) + u``. Above 5 % unknown, the tranche takes
  1,250 %.
* ``a = -1 / (p K_A)``, ``u = D - K_A``, ``l = max(A - K_A, 0)``,
  ``K_SSFA = (e^{a u} - e^{a l}) / (a (u - l))`` (CRE40.49).
* Risk weight: 1,250 % when ``D <= K_A``; ``12.5 K_SSFA`` when ``A >= K_A``; otherwise
  the blend ``12.5 (K_A - A)/(D - A) + 12.5 K_SSFA (D - K_A)/(D - A)`` (CRE40.47-48);
  floored at 15 % (10 % for simple, transparent and comparable deals, CRE40.54), capped
  at 1,250 %.

Risk weights are returned as decimals: ``9.54`` means 954 %.
"""

from __future__ import annotations

import math
import numbers

from valuation.errors import ConventionError

#: Maximum risk weight, 1,250 % (CRE40.50).
MAX_RISK_WEIGHT = 12.5
#: Risk-weight floor for non-STC tranches, 15 % (CRE40.50).
RISK_WEIGHT_FLOOR = 0.15
#: Risk-weight floor for simple, transparent and comparable tranches, 10 % (CRE40.54).
STC_RISK_WEIGHT_FLOOR = 0.10
#: Largest share of the pool whose delinquency status may be unknown (CRE40.43).
MAX_UNKNOWN_W_SHARE = 0.05


def _unit(value: float, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        raise ConventionError(
            f"The `{name}` of the SEC-SA inputs must be a decimal in [0, 1]. Got {value!r}.",
            field=name,
        )
    return float(value)


def sec_sa_k_a(k_sa: float, w: float, unknown_w_share: float = 0.0) -> float:
    """Delinquency-adjusted pool capital ``K_A`` (CRE40.43).

    Parameters
    ----------
    k_sa : float
        Capital charge of the underlying pool under the standardised approach (decimal, 0..1):
        8 % times the pool's average standardised risk weight.
    w : float
        Share of the pool (by exposure) that is delinquent or in default, decimal 0..1.
    unknown_w_share : float
        Share of the pool whose delinquency status is unknown, decimal 0..0.05; charged
        at 100 %.

    Returns
    -------
    float
        ``K_A`` as a decimal.

    Examples
    --------
    >>> round(sec_sa_k_a(0.09, 0.06, 0.01), 4)
    0.1235
    """
    k_sa = _unit(k_sa, "k_sa")
    w = _unit(w, "w")
    unknown = _unit(unknown_w_share, "unknown_w_share")
    if unknown > MAX_UNKNOWN_W_SHARE:
        raise ConventionError(
            "The `unknown_w_share` of the SEC-SA inputs must be at most 0.05 to compute K_A "
            f"(above it the tranche takes 1,250 %). Got {unknown!r}.",
            field="unknown_w_share",
        )
    k_known = (1.0 - w) * k_sa + 0.5 * w
    return (1.0 - unknown) * k_known + unknown


def sec_sa_risk_weight(
    k_sa: float,
    w: float,
    attach: float,
    detach: float,
    p: float = 1.0,
    unknown_w_share: float = 0.0,
    *,
    stc: bool = False,
) -> float:
    """SEC-SA risk weight of a tranche, as a decimal (9.54 means 954 %).

    Parameters
    ----------
    k_sa : float
        Standardised capital charge of the pool, decimal (0.08 for a 100 % risk-weight pool).
    w : float
        Delinquent share of the pool, decimal 0..1.
    attach, detach : float
        Attachment ``A`` and detachment ``D`` of the tranche as fractions of the pool,
        ``0 <= A < D <= 1``.
    p : float
        Supervisory parameter: 1 for securitisations, 1.5 for resecuritisations (> 0).
    unknown_w_share : float
        Share of the pool whose delinquency status is unknown, decimal 0..1. Above 5 %
        the tranche takes 1,250 %.
    stc : bool
        Simple, transparent and comparable deal: the floor is 10 % instead of 15 %.

    Returns
    -------
    float
        Risk weight as a decimal between the floor and 12.5.

    Raises
    ------
    ConventionError
        When an input is outside its range; the ``field`` names it.

    Notes
    -----
    ``K_A = (1 - u)((1 - W) K_SA + 0.5 W) + u``, ``a = -1/(p K_A)``,
    ``K_SSFA = (e^{a(D - K_A)} - e^{a max(A - K_A, 0)}) / (a (D - max(A, K_A)))``.

    References
    ----------
    Basel Committee on Banking Supervision, Basel Framework CRE40.42-40.54; the worked
    example (K_SA 9 %, W 6 %, 1 % unknown, A 5 %, D 25 % -> K_A 12.35 %, RW 954 %).

    Examples
    --------
    >>> round(sec_sa_risk_weight(0.09, 0.06, 0.05, 0.25, unknown_w_share=0.01), 2)
    9.54
    """
    attach = _unit(attach, "attach")
    detach = _unit(detach, "detach")
    if attach >= detach:
        raise ConventionError(
            f"The `attach` of the tranche must be below its `detach`. Got attach={attach!r}, "
            f"detach={detach!r}.",
            field="attach",
        )
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(p) or p <= 0.0:
        raise ConventionError(
            f"The `p` of the SEC-SA inputs must be a positive number (1 for securitisations). "
            f"Got {p!r}.",
            field="p",
        )
    unknown = _unit(unknown_w_share, "unknown_w_share")
    _unit(k_sa, "k_sa")
    _unit(w, "w")
    if unknown > MAX_UNKNOWN_W_SHARE:
        return MAX_RISK_WEIGHT
    k_a = sec_sa_k_a(k_sa, w, unknown)
    floor = STC_RISK_WEIGHT_FLOOR if stc else RISK_WEIGHT_FLOOR
    if detach <= k_a:
        return MAX_RISK_WEIGHT
    k_ssfa = _k_ssfa(k_a, p, attach, detach)
    if attach >= k_a:
        rw = MAX_RISK_WEIGHT * k_ssfa
    else:
        rw = MAX_RISK_WEIGHT * ((k_a - attach) + (detach - k_a) * k_ssfa) / (detach - attach)
    return float(min(max(rw, floor), MAX_RISK_WEIGHT))


def _k_ssfa(k_a: float, p: float, attach: float, detach: float) -> float:
    """Return the SSFA capital per unit of the part of the tranche above ``K_A`` (CRE40.49)."""
    if k_a <= 0.0:
        return 0.0  # a riskless pool: no capital above K_A (the floor then applies)
    a = -1.0 / (p * k_a)
    u = detach - k_a
    lo = max(attach - k_a, 0.0)
    # (e^{au} - e^{al}) / (a(u - l)) written with expm1 for accuracy on thin tranches
    return float(math.exp(a * lo) * math.expm1(a * (u - lo)) / (a * (u - lo)))


def guarantor_risk_weight(
    guarantor_pd: float, guarantor_lgd: float = 0.45, maturity_years: float = 2.5
) -> float:
    """Risk weight substituted for a wrapped tranche: the guarantor's IRB corporate weight.

    Substitution approach (CRE22.70-22.80, CRE32): the protected exposure takes the
    guarantor's risk weight, here ``12.5 K`` with ``K`` from `credit.capital.irb_capital`
    at the guarantor's PD, foundation LGD 45 % and the given maturity.
    """
    from credit.capital import irb_capital  # imported here: credit lands after products

    _unit(guarantor_pd, "guarantor_pd")
    _unit(guarantor_lgd, "guarantor_lgd")
    return float(12.5 * irb_capital(guarantor_pd, guarantor_lgd, maturity_years=maturity_years))
