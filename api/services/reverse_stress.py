"""Reverse stress of a run: the request it carries and the answer it records.

A stress run may ask for the scale of its scenario at which a limit of the book is first
breached (`parse_reverse`: the metric, the limit and its units, the largest scale
searched); the run solves it with `risk.reverse.reverse_stress` and records the answer
(`reverse_view`: the breaking scale, the bracket, the method and how to read it) in the
``reverse`` block of its results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from risk.reverse import SENIOR_LOSS_MATERIALITY, Limit
from valuation.errors import ConventionError

#: Units of each reverse-stress limit's threshold and metric.
LIMIT_UNITS = {
    "expected_loss_budget": "currency (portfolio expected loss)",
    "senior_tranche_loss": "fraction of the senior tranche's notional",
    "margin_calls": "loans in margin call",
}


#: Largest scale a reverse stress may search (the shocks are bounded at 100x anyway).
MAX_REVERSE_SCALE = 20.0


def parse_reverse(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a reverse-stress request; errors name ``reverse.<field>``.

    ``{"limit": "expected_loss_budget" | "senior_tranche_loss" | "margin_calls",
    "threshold": number >= 0 (required except for senior_tranche_loss, whose default is
    `risk.reverse.SENIOR_LOSS_MATERIALITY`; a whole number for margin_calls),
    "max_scale": number in (0, 20], default 4}``.
    """
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConventionError(
            "The `reverse` must be an object with `limit` and `threshold`.", field="reverse"
        )
    unknown = sorted(set(spec) - {"limit", "threshold", "max_scale"})
    if unknown:
        raise ConventionError(
            f"The `reverse` has unknown field {unknown[0]!r}.", field=f"reverse.{unknown[0]}"
        )
    kind = spec.get("limit")
    if kind not in LIMIT_UNITS:
        raise ConventionError(
            "The `limit` of `reverse` must be expected_loss_budget, "
            f"senior_tranche_loss or margin_calls. Got {kind!r}.",
            field="reverse.limit",
        )
    threshold = spec.get("threshold")
    if threshold is None and kind == "senior_tranche_loss":
        threshold = SENIOR_LOSS_MATERIALITY
    if threshold is None:
        raise ConventionError(
            f"The `threshold` of `reverse` is required for {kind}.", field="reverse.threshold"
        )
    if kind == "margin_calls" and not (
        isinstance(threshold, int | float)
        and not isinstance(threshold, bool)
        and float(threshold).is_integer()
    ):
        raise ConventionError(
            "The `threshold` of `reverse` must be a whole number of loans "
            f"for margin_calls. Got {threshold!r}.",
            field="reverse.threshold",
        )
    try:
        limit = Limit(kind, threshold)
    except ConventionError as exc:
        raise ConventionError(str(exc), field="reverse.threshold") from None
    max_scale = spec.get("max_scale", 4.0)
    if (
        isinstance(max_scale, bool)
        or not isinstance(max_scale, int | float)
        or not math.isfinite(max_scale)
        or not 0 < max_scale <= MAX_REVERSE_SCALE
    ):
        raise ConventionError(
            f"The `max_scale` of `reverse` must be in (0, {MAX_REVERSE_SCALE:g}]."
            f" Got {max_scale!r}.",
            field="reverse.max_scale",
        )
    return {"limit": limit.kind, "threshold": limit.threshold, "max_scale": float(max_scale)}


def reverse_view(result: Any, max_scale: float, currency: str) -> dict[str, Any]:
    """What a run reports of its reverse stress (`risk.reverse.ReverseStressResult`)."""
    kind = result.limit.kind
    if result.scale is None:
        reading = (
            f"not broken: {kind} stays within {result.limit.threshold:g} up to "
            f"{max_scale:g} times the scenario"
        )
    elif result.method == "at_zero":
        reading = f"already broken without any shock (base {result.base_metric:g})"
    else:
        reading = (
            f"broken at {result.scale:.4g} times the scenario "
            f"({kind} {result.metric_at_scale:g} vs limit {result.limit.threshold:g})"
        )
        if result.method == "brentq_step":
            reading += (
                "; the metric steps across the limit there (a Monte Carlo step: "
                "more paths smooth it)"
            )
    return {
        "scenario": result.scenario,
        "limit": kind,
        "threshold": result.limit.threshold,
        "unit": LIMIT_UNITS[kind].replace("currency", currency),
        "breached": result.breached,
        "scale": result.scale,
        "metric_at_scale": result.metric_at_scale,
        "base_metric": result.base_metric,
        "bracket": list(result.bracket) if result.bracket else None,
        "method": result.method,
        "evaluations": result.evaluations,
        "xtol": result.xtol,
        "max_scale": max_scale,
        "reading": reading,
    }
