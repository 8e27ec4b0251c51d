"""Collateral monitoring: LTV after revaluation and `warning` / `margin_call` / `liquidation` events.

``LTV = outstanding / collateral value``. Thresholds (defaults, configurable per bank):
warning at 60 % (the origination warning level), margin call at 70 %, liquidation at
85 % -- the ladder used in share-pledge lending, where margin calls sit about 10 points
above the warning line and forced sale about 15 points above the call. A margin call
asks for the pay-down (or extra collateral value) that restores the warning LTV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from valuation._typing import FloatArray, IntArray
from valuation.errors import ConventionError

EVENT_KINDS: tuple[str, ...] = ("none", "warning", "margin_call", "liquidation")


@dataclass(frozen=True, slots=True)
class MonitoringThresholds:
    """LTV levels (decimals) at which events are raised; must increase strictly."""

    warning: float = 0.60
    margin_call: float = 0.70
    liquidation: float = 0.85

    def __post_init__(self) -> None:
        for name in ("warning", "margin_call", "liquidation"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ConventionError(
                    f"The `{name}` threshold must be a positive decimal. Got {v!r}.", field=name
                )
        if not self.warning < self.margin_call < self.liquidation:
            raise ConventionError(
                "The thresholds must satisfy warning < margin_call < liquidation. "
                f"Got {self.warning}, {self.margin_call}, {self.liquidation}.",
                field="thresholds",
            )


@dataclass(frozen=True, slots=True)
class MonitoringEvent:
    """One raised event: ``kind``, the LTV that raised it, the threshold crossed and the cure amount."""

    kind: str
    ltv: float
    threshold: float
    cure_amount: float


@dataclass(frozen=True, slots=True)
class RevaluationResult:
    """The outcome of a revaluation: the new LTV and the event it raises, if any."""

    ltv: float
    previous_ltv: float | None
    events: tuple[MonitoringEvent, ...]


def classify_ltv(ltv: FloatArray, thresholds: MonitoringThresholds | None = None) -> IntArray:
    """Event level per LTV (vectorised): 0 none, 1 warning, 2 margin call, 3 liquidation."""
    t = thresholds or MonitoringThresholds()
    x = np.asarray(ltv, dtype=np.float64)
    return (x >= t.warning).astype(np.int64) + (x >= t.margin_call) + (x >= t.liquidation)


def revalue(
    outstanding: float,
    collateral_value: float,
    thresholds: MonitoringThresholds | None = None,
    *,
    previous_ltv: float | None = None,
) -> RevaluationResult:
    """Revalue a loan's collateral: the new LTV and the event it raises.

    New LTV and the event it raises (at most one: the most severe level reached).

    Parameters
    ----------
    outstanding : float
        Loan balance outstanding (>= 0).
    collateral_value : float
        Revalued collateral value in the same currency (>= 0; 0 means LTV = inf).
    thresholds : MonitoringThresholds
    previous_ltv : float, optional
        Echoed in the result for the audit trail.
    """
    t = thresholds or MonitoringThresholds()
    if not (math.isfinite(outstanding) and outstanding >= 0):
        raise ConventionError(
            f"The `outstanding` must be a non-negative amount. Got {outstanding!r}.",
            field="outstanding",
        )
    if not (math.isfinite(collateral_value) and collateral_value >= 0):
        raise ConventionError(
            f"The `collateral_value` must be a non-negative amount. Got {collateral_value!r}.",
            field="collateral_value",
        )
    if outstanding == 0:
        ltv = 0.0
    else:
        ltv = math.inf if collateral_value == 0 else outstanding / collateral_value
    level = int(classify_ltv(np.array([ltv]), t)[0])
    events: tuple[MonitoringEvent, ...] = ()
    if level:
        kind = EVENT_KINDS[level]
        threshold = (t.warning, t.margin_call, t.liquidation)[level - 1]
        cure = max(0.0, outstanding - t.warning * collateral_value) if level >= 2 else 0.0
        events = (MonitoringEvent(kind=kind, ltv=ltv, threshold=threshold, cure_amount=cure),)
    return RevaluationResult(ltv=ltv, previous_ltv=previous_ltv, events=events)
