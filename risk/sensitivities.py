"""Bump-and-revalue sensitivities of a book, per position and in total.

Every figure is a central difference on the same random numbers (the runner's seed), with
its bump recorded:

* ``dv01``: change in ``value`` for +1 bp on the risk-free zero curve,
  ``(V(+h) - V(-h)) / (2 h)`` with ``h = rate_bp`` basis points (currency per bp).
* ``cs01``: the same for the credit-spread shift (loans and tranches; assets are
  discounted at their own risk premium and have none).
* ``revenue_elasticity``: ``d ln X / d ln m`` for a revenue multiplier ``m = 1 +- e``,
  ``(ln X(1+e) - ln X(1-e)) / (ln(1+e) - ln(1-e))``, where ``X`` is the position's risk
  figure: collateral value (assets), expected loss (loans), value (tranches).
* ``correlation_sensitivity``: change in expected loss (currency) per +0.01 of asset
  correlation, ``(EL(rho+h) - EL(rho-h)) / (2h) * 0.01`` (tranches; zero elsewhere: a
  loan's own EL does not depend on correlation).

Totals: ``dv01``, ``cs01`` and ``correlation_sensitivity`` add up; the total
``revenue_elasticity`` is that of the total risk figure of each kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk.inputs import Variant
from risk.runner import StressRunner
from risk.scenarios import Shocks
from valuation.errors import ConventionError


@dataclass(frozen=True, slots=True)
class Bumps:
    """Bump sizes of the sensitivities.

    Bump sizes: ``rate_bp`` and ``spread_bp`` in basis points, ``revenue`` a relative change of the
    revenue multiplier (0.01 = 1 %), ``correlation`` absolute (decimal).
    """

    rate_bp: float = 1.0
    spread_bp: float = 1.0
    revenue: float = 0.01
    correlation: float = 0.01

    def __post_init__(self) -> None:
        for name, hi in (
            ("rate_bp", 500.0),
            ("spread_bp", 500.0),
            ("revenue", 0.5),
            ("correlation", 0.2),
        ):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0 < v <= hi):
                raise ConventionError(
                    f"The `{name}` of `Bumps` must be in (0, {hi}]. Got {v!r}.",
                    field=f"bumps.{name}",
                )

    def as_dict(self) -> dict[str, float]:
        """Return the bump sizes as a plain dict."""
        return {
            "rate_bp": self.rate_bp,
            "spread_bp": self.spread_bp,
            "revenue": self.revenue,
            "correlation": self.correlation,
        }


_RISK_FIGURE = {"asset": "collateral_value", "loan": "expected_loss", "tranche": "value"}


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """Sensitivities per position, with totals per kind and overall.

    ``table``: one row per position (``kind``, ``id``) plus totals per kind and overall; columns
    ``dv01``, ``cs01``, ``revenue_elasticity``, ``correlation_sensitivity``.
    """

    table: pd.DataFrame
    bumps: Bumps
    horizon_months: int

    def to_json(self) -> dict[str, object]:
        """Return the JSON form: the bumps and the table's rows."""
        rows = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {"bumps": self.bumps.as_dict(), "horizon_months": self.horizon_months, "rows": rows}


def sensitivities(
    runner: StressRunner, *, bumps: Bumps | None = None, horizon_months: int = 12
) -> SensitivityResult:
    """Bump-and-revalue DV01, CS01, revenue elasticity and correlation sensitivity.

    One evaluation of nine variants on common random numbers (see the module notes).
    """
    b = bumps or Bumps()
    e = b.revenue
    variants = [
        Variant(Shocks(), horizon_months),
        Variant(Shocks(rate_shift_bp=b.rate_bp), horizon_months),
        Variant(Shocks(rate_shift_bp=-b.rate_bp), horizon_months),
        Variant(Shocks(credit_spread_shift_bp=b.spread_bp), horizon_months),
        Variant(Shocks(credit_spread_shift_bp=-b.spread_bp), horizon_months),
        Variant(Shocks(revenue_multiplier=1.0 + e), horizon_months),
        Variant(Shocks(revenue_multiplier=1.0 - e), horizon_months),
        Variant(Shocks(correlation_shift=b.correlation), horizon_months),
        Variant(Shocks(correlation_shift=-b.correlation), horizon_months),
    ]
    fig = runner.evaluate(variants, tail=False)
    ids = {
        "asset": [a.id for a in runner.book.assets],
        "loan": [x.id for x in runner.book.loans],
        "tranche": [t.id for t in runner.book.tranches],
    }
    dlog = math.log1p(e) - math.log1p(-e)
    rows: list[pd.DataFrame] = []
    totals: list[dict[str, Any]] = []
    for kind, mets in fig.metrics.items():
        if kind not in _RISK_FIGURE:
            continue
        value = mets["value"]
        risk = mets[_RISK_FIGURE[kind]]
        dv01 = (value[1] - value[2]) / (2.0 * b.rate_bp)
        cs01 = (value[3] - value[4]) / (2.0 * b.spread_bp)
        with np.errstate(divide="ignore", invalid="ignore"):
            elastic = np.where(
                (risk[5] > 0) & (risk[6] > 0), (np.log(risk[5]) - np.log(risk[6])) / dlog, np.nan
            )
        if kind == "tranche":
            el = mets["expected_loss"]
            corr = (el[7] - el[8]) / (2.0 * b.correlation) * 0.01
        else:
            corr = np.zeros(len(ids[kind]))
        rows.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "id": ids[kind],
                    "dv01": dv01,
                    "cs01": cs01,
                    "revenue_elasticity": elastic,
                    "correlation_sensitivity": corr,
                }
            )
        )
        up, down = float(risk[5].sum()), float(risk[6].sum())
        totals.append(
            {
                "kind": f"total_{kind}",
                "id": "",
                "dv01": float(dv01.sum()),
                "cs01": float(cs01.sum()),
                "revenue_elasticity": (math.log(up) - math.log(down)) / dlog
                if up > 0 and down > 0
                else math.nan,
                "correlation_sensitivity": float(corr.sum()),
            }
        )
    if totals:
        totals.append(
            {
                "kind": "total",
                "id": "",
                "dv01": sum(float(t["dv01"]) for t in totals),
                "cs01": sum(float(t["cs01"]) for t in totals),
                "revenue_elasticity": math.nan,
                "correlation_sensitivity": sum(float(t["correlation_sensitivity"]) for t in totals),
            }
        )
    table = (
        pd.concat([*rows, pd.DataFrame(totals)], ignore_index=True)
        if rows
        else pd.DataFrame(
            columns=["kind", "id", "dv01", "cs01", "revenue_elasticity", "correlation_sensitivity"]
        )
    )
    return SensitivityResult(table, b, horizon_months)


__all__ = ["Bumps", "SensitivityResult", "sensitivities"]
