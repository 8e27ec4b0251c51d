"""Reverse stress: the smallest scale of a scenario that breaks a limit.

The scenario is scaled by ``s`` (`risk.scenarios.Scenario.scaled`: ``s = 0`` is the zero
shock, ``s = 1`` the scenario itself); the limit's metric ``f(s)`` is evaluated on the
book. A coarse scan over ``(0, max_scale]`` finds the first grid interval in which the
limit breaks; inside it a continuous metric is solved with Brent's method
(`scipy.optimize.brentq`) for ``f(s) = threshold`` and a count (margin calls, a step
function) is bisected until the interval is narrower than ``xtol``. The result reports
the limit, its threshold, the scale and the metric there.

A Monte Carlo metric is not quite continuous: obsolescence jumps fall in whole months,
so a small change of scale can move a path's jump to another month and the metric
steps. Where it steps across the threshold, Brent's root sits on the step and the metric
there is still below the limit (by more than `STEP_TOLERANCE` of it); the search then bisects the interval from the root to
the scan point until it is narrower than ``xtol`` and reports its upper end (method
``brentq_step``): the reported scale is where the limit is broken, or, for a
continuous metric, where the metric equals the threshold to the solver's tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import brentq

from risk.inputs import Variant
from risk.runner import StressRunner
from risk.scenarios import Scenario
from valuation.errors import ConventionError

LimitKind = Literal["expected_loss_budget", "senior_tranche_loss", "margin_calls"]

#: Default materiality of "any senior tranche loss": an expected loss of 1 bp of the
#: senior notional. A copula pool always gives the senior tranche some infinitesimal
#: expected loss, so "any loss" needs a floor; 1 bp is well below the expected loss of
#: a single-A tranche and a visible break of a AAA one.
SENIOR_LOSS_MATERIALITY = 1e-4
#: Brent's root counts as "at the threshold" when the metric there is within this
#: relative distance of it; further below, the metric stepped across the limit at the root.
STEP_TOLERANCE = 1e-3


@dataclass(frozen=True, slots=True)
class Limit:
    """A risk limit on the stressed book.

    Parameters
    ----------
    kind : {"expected_loss_budget", "senior_tranche_loss", "margin_calls"}
        ``expected_loss_budget``: portfolio EL (currency) above ``threshold``;
        ``senior_tranche_loss``: the largest expected loss of a senior tranche (the most
        senior tranche of each securitization), as a fraction of its notional, above
        ``threshold``; ``margin_calls``: the number of loans in margin call above
        ``threshold`` (N).
    threshold : float
        The limit (>= 0).
    """

    kind: LimitKind
    threshold: float

    def __post_init__(self) -> None:
        if self.kind not in ("expected_loss_budget", "senior_tranche_loss", "margin_calls"):
            raise ConventionError(
                "The `kind` of `Limit` must be expected_loss_budget, "
                f"senior_tranche_loss or margin_calls. Got {self.kind!r}.",
                field="limit.kind",
            )
        t = self.threshold
        if (
            isinstance(t, bool)
            or not isinstance(t, int | float | np.floating)
            or not math.isfinite(t)
            or t < 0
        ):
            raise ConventionError(
                f"The `threshold` of `Limit` must be a number >= 0. Got {t!r}.",
                field="limit.threshold",
            )
        object.__setattr__(self, "threshold", float(t))

    @property
    def is_count(self) -> bool:
        """Tell whether the limit counts loans (rather than an amount)."""
        return self.kind == "margin_calls"

    def as_dict(self) -> dict[str, object]:
        """Return the limit as a plain dict."""
        return {"kind": self.kind, "threshold": self.threshold}


def expected_loss_budget(budget: float) -> Limit:
    """Portfolio expected loss above ``budget`` (currency)."""
    return Limit("expected_loss_budget", budget)


def senior_tranche_loss(materiality: float = SENIOR_LOSS_MATERIALITY) -> Limit:
    """Any senior tranche with an expected loss above ``materiality`` of its notional."""
    return Limit("senior_tranche_loss", materiality)


def margin_call_count(n: int) -> Limit:
    """More than ``n`` loans in margin call."""
    return Limit("margin_calls", float(n))


@dataclass(frozen=True, slots=True)
class ReverseStressResult:
    """Where a scaled scenario breaks a limit.

    Attributes
    ----------
    scenario : str
        The scenario scaled.
    limit : Limit
    scale : float or None
        Smallest scale found to break the limit (None: unbroken up to ``max_scale``).
        For a continuous metric the metric equals the threshold at ``scale`` to the
        solver's tolerance; for a count it exceeds the threshold at ``scale`` and not at
        ``scale - xtol``.
    metric_at_scale : float or None
    base_metric : float
        Metric at scale 0 (no shock).
    bracket : (float, float) or None
        Final interval that contains the break.
    evaluations : int
        Book revaluations used.
    method : str
        ``brentq``, ``brentq_step`` (the metric steps across the limit: see the module
        notes), ``bisect``, ``at_zero`` (broken without shock) or ``scan`` (unbroken).
    """

    scenario: str
    limit: Limit
    scale: float | None
    metric_at_scale: float | None
    base_metric: float
    bracket: tuple[float, float] | None
    evaluations: int
    method: str
    xtol: float

    @property
    def breached(self) -> bool:
        """Tell whether the limit is breached within the scales searched."""
        return self.scale is not None

    def as_dict(self) -> dict[str, object]:
        """Return the result as a plain dict."""
        return {
            "scenario": self.scenario,
            "limit": self.limit.as_dict(),
            "scale": self.scale,
            "metric_at_scale": self.metric_at_scale,
            "base_metric": self.base_metric,
            "bracket": list(self.bracket) if self.bracket else None,
            "evaluations": self.evaluations,
            "method": self.method,
            "xtol": self.xtol,
        }


def limit_metric(runner: StressRunner, scenario: Scenario, limit: Limit) -> float:
    """Return the limit's metric on the book under ``scenario`` (stressed figure)."""
    fig = runner.evaluate(
        [Variant(scenario.shocks, scenario.horizon_months)],
        tranches=limit.kind == "senior_tranche_loss",
        tail=False,
    )
    m = fig.metrics
    if limit.kind == "expected_loss_budget":
        return float(m["loan"]["expected_loss"][0].sum()) if "loan" in m else 0.0
    if limit.kind == "margin_calls":
        return float(m["loan"]["margin_calls"][0].sum()) if "loan" in m else 0.0
    if "tranche" not in m:
        raise ConventionError(
            "A `senior_tranche_loss` limit needs tranches in the book.", field="limit.kind"
        )
    seniors = _senior_tranches(runner)
    return float(m["tranche"]["tranche_expected_loss"][0][seniors].max())


def _senior_tranches(runner: StressRunner) -> np.ndarray:
    best: dict[str, int] = {}
    for j, t in enumerate(runner.book.tranches):
        k = best.get(t.securitization_id)
        if k is None or t.attach > runner.book.tranches[k].attach:
            best[t.securitization_id] = j
    return np.array(sorted(best.values()), dtype=np.int64)


def reverse_stress(
    runner: StressRunner,
    scenario: Scenario,
    limit: Limit,
    *,
    max_scale: float = 4.0,
    scan_points: int = 8,
    xtol: float = 1e-4,
    rtol: float = 1e-6,
    on_evaluation: Callable[[int], None] | None = None,
) -> ReverseStressResult:
    """Smallest scale ``s`` in ``[0, max_scale]`` at which ``scenario.scaled(s)`` breaks ``limit``.

    Parameters
    ----------
    runner : StressRunner
        The book, market and numerical settings (its seed gives common random numbers
        across scales, so the metric is a deterministic function of ``s``).
    scenario : Scenario
    limit : Limit
    max_scale : float
        Largest scale searched (> 0).
    scan_points : int
        Coarse scan points over ``(0, max_scale]`` (>= 1).
    xtol, rtol : float
        Tolerances on the scale (Brent: absolute and relative; bisection: ``xtol``).
    on_evaluation : callable, optional
        Called with the number of book revaluations done so far after each one (progress).
    """
    if not (math.isfinite(max_scale) and max_scale > 0):
        raise ConventionError(f"The `max_scale` must be > 0. Got {max_scale!r}.", field="max_scale")
    if scan_points < 1:
        raise ConventionError(
            f"The `scan_points` must be >= 1. Got {scan_points!r}.", field="scan_points"
        )
    count = [0]
    cache: dict[float, float] = {}

    def metric(s: float) -> float:
        if s not in cache:
            cache[s] = limit_metric(runner, scenario.scaled(s), limit)
            count[0] += 1
            if on_evaluation is not None:
                on_evaluation(count[0])
        return cache[s]

    def f(s: float) -> float:
        return metric(s) - limit.threshold

    base = metric(0.0)
    done = _Finish(scenario.name, limit, base, count, xtol)
    if base > limit.threshold:
        return done(0.0, base, None, "at_zero")
    lo = 0.0
    for i in range(1, scan_points + 1):
        hi = max_scale * i / scan_points
        if f(hi) > 0.0:
            break
        lo = hi
    else:
        return done(None, None, None, "scan")
    if limit.is_count:
        while hi - lo > xtol:
            mid = 0.5 * (lo + hi)
            if f(mid) > 0.0:
                hi = mid
            else:
                lo = mid
        return done(hi, metric(hi), (lo, hi), "bisect")
    root = float(brentq(f, lo, hi, xtol=xtol, rtol=rtol))
    if f(root) > 0.0 or abs(f(root)) <= STEP_TOLERANCE * max(abs(limit.threshold), 1e-12):
        return done(root, metric(root), (lo, hi), "brentq")  # at the threshold: continuous
    # the metric steps across the threshold at the root: the first scale past the step
    below, above = root, hi
    while above - below > xtol:
        mid = 0.5 * (below + above)
        if f(mid) > 0.0:
            above = mid
        else:
            below = mid
    return done(above, metric(above), (below, above), "brentq_step")


@dataclass
class _Finish:
    name: str
    limit: Limit
    base: float
    count: list[int]
    xtol: float

    def __call__(
        self,
        scale: float | None,
        value: float | None,
        bracket: tuple[float, float] | None,
        method: str,
    ) -> ReverseStressResult:
        return ReverseStressResult(
            self.name,
            self.limit,
            scale,
            value,
            self.base,
            bracket,
            self.count[0],
            method,
            self.xtol,
        )


__all__ = [
    "Limit",
    "ReverseStressResult",
    "expected_loss_budget",
    "limit_metric",
    "margin_call_count",
    "reverse_stress",
    "senior_tranche_loss",
]
