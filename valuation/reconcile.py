"""Reconciliation of the approaches into one value, and the valuation result.

Weights (CAS 2023 asks for at least two approaches where the data allow and for the
choice to be explained; IVS 105.10.7 for weighing approaches by the evidence behind
them): each approach that ran gets ``base weight x sufficiency``, normalised to one.

- base weights: income 0.5, market 0.3, cost 0.2 (the income approach reflects what
  the data earns, the cost approach only what it took to build);
- sufficiency in (0, 1]: income ``min(1, months fitted / 24)``; market
  ``min(1, comparables used / 10)``; cost ``1``;
- precision in (0, 1]: ``1 / (1 + cv^2)``, ``cv`` the coefficient of variation of the
  approach's own distribution (`valuation.mixture`);
- evidence = sufficiency x precision.

When the largest approach value exceeds the smallest by more than a factor of 2 the
approaches disagree: the result carries an ``approaches_disagree`` warning and the
weights become ``base x evidence^2`` (normalised), which moves weight toward the
approaches with the most data and the tightest distributions. User weights
(``weights={method: w}``) replace all this (the warning stays); methods that could
not run get no weight. The reconciled distribution is the weighted mixture of the
approaches' distributions (`valuation.mixture.Mixture`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from valuation.errors import ConventionError
from valuation.mixture import Mixture
from valuation.montecarlo import Distribution, MonteCarloResult
from valuation.quote import Quote
from valuation.results import MethodResult

METHODS = ("income", "cost", "market")
DEFAULT_BASE_WEIGHTS: Mapping[str, float] = {"income": 0.5, "market": 0.3, "cost": 0.2}
#: Largest / smallest approach value above which the approaches disagree.
DISAGREEMENT_RATIO = 2.0


def evidence_score(result: MethodResult) -> float:
    """Sufficiency of the data behind one approach's result, in (0, 1]."""
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


def disagreement_ratio(methods: Mapping[str, MethodResult]) -> float | None:
    """Largest over smallest approach value (None with one approach; inf if one is 0)."""
    values = [r.value for r in methods.values()]
    if len(values) < 2:
        return None
    lo, hi = min(values), max(values)
    if hi <= 0:
        return 1.0
    return float("inf") if lo <= 0 else hi / lo


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """How the approaches were weighed, and why (API: ``reconciliation``)."""

    weights: Mapping[str, float]
    evidence: Mapping[str, Mapping[str, float]]
    disagreement_ratio: float | None
    disagree: bool
    weights_given: bool
    rationale: str

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a plain dict (the API's shape)."""
        ratio = self.disagreement_ratio
        return {
            "weights": dict(self.weights),
            "evidence": {k: dict(v) for k, v in self.evidence.items()},
            "disagreement_ratio": None if ratio is None or not np.isfinite(ratio) else ratio,
            "disagree": self.disagree,
            "weights_given": self.weights_given,
            "rationale": self.rationale,
        }


def _evidence_words(name: str, r: MethodResult, ev: Mapping[str, float]) -> str:
    if name == "income":
        n = int(r.diagnostics.get("fit", {}).get("n_months", 0) or 0)
        what = f"{n} months of history" if n else "its forecast"
    elif name == "market":
        what = f"{int(r.diagnostics.get('comparables_used', 0))} comparables"
    else:
        what = f"{int(r.diagnostics.get('occurrences', 0))} cost records"
    return (
        f"{name} {r.value:,.0f} ({what}, coefficient of variation "
        f"{ev['cv']:.0%}, evidence {ev['evidence']:.2f})"
    )


def reconcile(
    methods: Mapping[str, MethodResult],
    cv: Mapping[str, float],
    overrides: Mapping[str, float] | None = None,
) -> Reconciliation:
    """Weights, evidence and rationale (module Notes); ``cv`` by approach from its distribution."""
    ratio = disagreement_ratio(methods)
    disagree = ratio is not None and ratio > DISAGREEMENT_RATIO
    evidence: dict[str, dict[str, float]] = {}
    for m, r in methods.items():
        suff = evidence_score(r)
        c = float(cv.get(m, 0.0))
        prec = 1.0 / (1.0 + c * c)
        evidence[m] = {"sufficiency": suff, "cv": c, "precision": prec, "evidence": suff * prec}
    if overrides is not None:
        weights = reconcile_weights(methods, overrides)
        how = "The weights are those given with the request."
    elif disagree:
        raw = {m: DEFAULT_BASE_WEIGHTS[m] * evidence[m]["evidence"] ** 2 for m in methods}
        total = sum(raw.values())
        weights = {m: w / total for m, w in raw.items()}
        how = (
            f"Because the approaches disagree by more than a factor of {DISAGREEMENT_RATIO:g}, "
            "the weights are the base weights (income 0.5, market 0.3, cost 0.2) times the "
            "square of each approach's evidence (data sufficiency x precision), which moves "
            "weight toward the approaches with the most data and the tightest distributions."
        )
    else:
        weights = reconcile_weights(methods, None)
        how = (
            "The approaches agree within a factor of "
            f"{DISAGREEMENT_RATIO:g}; the weights are the base weights (income 0.5, market 0.3, "
            "cost 0.2) times each approach's data sufficiency."
        )
    parts = [_evidence_words(m, methods[m], evidence[m]) for m in methods]
    if len(methods) == 1:
        only = next(iter(methods))
        rationale = (
            f"Only the {only} approach could run ({parts[0]}); the value and its range "
            "are that approach's own."
        )
    else:
        spread = (
            "a factor of infinity (one approach gives zero)"
            if ratio == float("inf")
            else f"a factor of {ratio:.2f}"
        )
        rationale = (
            f"The approaches give {'; '.join(parts)}: the largest and smallest differ by "
            f"{spread}. {how} Resulting weights: "
            + ", ".join(f"{m} {w:.2f}" for m, w in weights.items())
            + ". The range is the weighted mixture of the approaches' distributions, so "
            "it covers their disagreement."
        )
    return Reconciliation(weights, evidence, ratio, disagree, overrides is not None, rationale)


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
    warnings : tuple of mapping
        ``{code, message}``: ``stale_signals``, ``short_history``, ``level_shift``,
        ``approaches_disagree``, ``default_assumption``, ...
    reconciliation : Reconciliation
        Weights, evidence, disagreement ratio and rationale.
    sensitivities : tuple of mapping
        ``{name, shift, value}``: the reconciled value under one changed assumption.
    model : mapping
        ``version`` and ``libraries`` (name -> version).
    mixture : Mixture
        The approaches' samples behind ``distribution`` and the haircut.
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
    warnings: tuple[Mapping[str, str], ...] = ()
    reconciliation: Reconciliation | None = None
    sensitivities: tuple[Mapping[str, Any], ...] = ()
    model: Mapping[str, Any] = field(default_factory=dict)
    mixture: Mixture | None = None

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
            "warnings": [dict(w) for w in self.warnings],
            "reconciliation": None
            if self.reconciliation is None
            else self.reconciliation.as_dict(),
            "sensitivities": [dict(s) for s in self.sensitivities],
            "model": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.model.items()},
            "histogram": None if self.mixture is None else self.mixture.histogram(),
        }


ValuationResult = AssetValuation
