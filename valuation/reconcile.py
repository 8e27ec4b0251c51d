"""Reconciliation of the approaches into one value, and the valuation result.

Weights (CAS 2023 asks for at least two approaches where the data allow and for the
choice to be explained): each approach that ran gets ``base weight x evidence``,
normalised to sum to one.

- base weights: income 0.5, market 0.3, cost 0.2 (the income approach reflects what
  the data earns, the cost approach only what it took to build);
- evidence in (0, 1]: income ``min(1, months fitted / 24)``; market
  ``min(1, comparables used / 10)``; cost ``1``.

User weights (``weights={method: w}``) replace these; methods that could not run get
no weight. The reconciled value's distribution: the income approach's simulated path
values weighted like the income value, the other approaches as fixed amounts
(``V_path = w_income V_mc,path + sum_other w_m V_m``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from valuation.errors import ConventionError
from valuation.montecarlo import Distribution, MonteCarloResult
from valuation.quote import Quote
from valuation.results import MethodResult

METHODS = ("income", "cost", "market")
DEFAULT_BASE_WEIGHTS: Mapping[str, float] = {"income": 0.5, "market": 0.3, "cost": 0.2}


def evidence_score(result: MethodResult) -> float:
    """Evidence behind one approach's result, in (0, 1]."""
    if result.method == "income":
        n = int(result.diagnostics.get("fit", {}).get("n_months", 24))
        return min(1.0, max(n, 1) / 24.0)
    if result.method == "market":
        n = int(result.diagnostics.get("comparables_used", 10))
        return min(1.0, max(n, 1) / 10.0)
    return 1.0


def reconcile_weights(
    methods: Mapping[str, MethodResult], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Weights of the approaches that ran (sum to one).

    Raises
    ------
    ConventionError
        An override names an unknown approach, is negative or not finite, or gives no
        weight to any approach that ran.
    """
    if not methods:
        raise ConventionError("No approach ran; nothing to reconcile.", field="weights")
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise ConventionError(
                f"The `weights` must map approaches to numbers. Got {overrides!r}.", field="weights"
            )
        for k, w in overrides.items():
            if k not in METHODS:
                raise ConventionError(
                    f"The `weights` keys must be among {', '.join(METHODS)}. Got {k!r}.",
                    field=f"weights.{k}",
                )
            if isinstance(w, bool) or not isinstance(w, int | float) or not np.isfinite(w) or w < 0:
                raise ConventionError(
                    f"The `weights.{k}` must be a finite non-negative number. Got {w!r}.",
                    field=f"weights.{k}",
                )
        raw = {m: float(overrides.get(m, 0.0)) for m in methods}
        if sum(raw.values()) <= 0:
            raise ConventionError(
                "The `weights` must give a positive weight to at least one approach that ran "
                f"({', '.join(methods)}). Got {dict(overrides)!r}.",
                field="weights",
            )
    else:
        raw = {m: DEFAULT_BASE_WEIGHTS[m] * evidence_score(r) for m, r in methods.items()}
    total = sum(raw.values())
    return {m: w / total for m, w in raw.items()}


@dataclass(frozen=True, slots=True, eq=False)
class AssetValuation:
    """The valuation of one asset (what ``POST /v1/assets/{id}/valuations`` returns).

    Attributes
    ----------
    asset_id : str
    as_of : date
    currency : str
    value : float
        Reconciled value, major units.
    distribution : Distribution
        mean, std, p05, p50, p95 of the reconciled value.
    methods : mapping of str to MethodResult
        Every approach that ran, with its assumptions.
    unavailable : mapping of str to str
        Approaches that could not run, with what they lack.
    weights : mapping of str to float
    quote : Quote
    simulation : MonteCarloResult or None
        The income approach's simulated paths (None when the income approach could not run).
    seed : int
    paths : int
    model_version : str
    assumptions : mapping
        The assumptions as given (the defaults used are in each method's assumptions).
    notes : tuple of str
        Signal treatment notes.
    """

    asset_id: str
    as_of: date
    currency: str
    value: float
    distribution: Distribution
    methods: Mapping[str, MethodResult]
    unavailable: Mapping[str, str]
    weights: Mapping[str, float]
    quote: Quote
    simulation: MonteCarloResult | None
    seed: int
    paths: int
    model_version: str
    assumptions: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-ready except for the simulation, which is summarised)."""
        sim = self.simulation
        return {
            "asset_id": self.asset_id,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "value": self.value,
            "distribution": self.distribution.as_dict(),
            "methods": {k: v.as_dict() for k, v in self.methods.items()},
            "unavailable": dict(self.unavailable),
            "weights": dict(self.weights),
            "quote": self.quote.as_dict(),
            "simulation": None
            if sim is None
            else {
                "seed": sim.seed,
                "n_paths": sim.n_paths,
                "months": sim.months,
                "std_error": sim.std_error,
                "mean": float(sim.values.mean()),
                "parameters": dict(sim.parameters),
            },
            "seed": self.seed,
            "paths": self.paths,
            "model_version": self.model_version,
            "assumptions": dict(self.assumptions),
            "notes": list(self.notes),
        }


ValuationResult = AssetValuation


def reconciled_distribution(
    methods: Mapping[str, MethodResult],
    weights: Mapping[str, float],
    simulation: MonteCarloResult | None,
) -> Distribution:
    """Distribution of the reconciled value (see the module docstring)."""
    fixed = sum(w * methods[m].value for m, w in weights.items() if m != "income" or simulation is None)
    if simulation is None:
        return Distribution.point(fixed)
    return Distribution.of(weights.get("income", 0.0) * simulation.values + fixed)
