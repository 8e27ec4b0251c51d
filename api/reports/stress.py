"""Stress report of a stored run.

The aggregate table (base, stressed, change) of the run's scenario, a chart of the main
metrics (stressed as a share of base), the positions that lose most, the scenario
definition with its rationale (the library's documented sources for built-in scenarios),
and the reverse-stress result when the run has one. In the manner of ORE's stress
reports: one row per metric, base and stressed side by side.
"""

from __future__ import annotations

import inspect
from typing import Any

from sqlmodel import Session

from api.reports import charts
from api.reports.common import base_context
from api.services import risk as risk_service

MAIN_METRICS = (
    "collateral_value",
    "lending_value",
    "expected_loss",
    "capital",
    "loss_var",
    "loss_es",
    "tranche_expected_loss",
    "price",
    "ltv",
    "pd",
    "lgd",
)
RATIO_METRICS = frozenset({"ltv", "pd", "lgd", "tranche_expected_loss"})
LOSS_METRIC = {"asset": "collateral_value", "loan": "expected_loss", "tranche": "price"}
TOP_POSITIONS = 10
COMPARED_METRICS = ("collateral_value", "lending_value", "expected_loss", "capital", "loss_var")
MAX_COMPARED_RUNS = 6


def library_rationale(name: str) -> str | None:
    """The docstring of the built-in scenario `name` (its rationale and sources)."""
    from risk import library

    fn = getattr(library, name, None)
    if fn is None or not callable(fn):
        return None
    doc = inspect.getdoc(fn)
    return doc or None


def worst_positions(positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Positions ranked by what they lose: collateral value for assets, expected loss for
    loans (a rise is a loss), price for tranches."""
    ranked = []
    for p in positions:
        metric = LOSS_METRIC.get(p.get("kind", ""))
        cell = p.get(metric) if metric else None
        if not cell or cell.get("delta") is None:
            continue
        loss = cell["delta"] if metric == "expected_loss" else -cell["delta"]
        ranked.append({"kind": p["kind"], "id": p["id"], "metric": metric, **cell, "loss": loss})
    ranked.sort(key=lambda r: r["loss"], reverse=True)
    return ranked[:TOP_POSITIONS]


def by_scenario(session: Session, run: Any, tenant: str) -> dict[str, dict[str, float]]:
    """Stressed as % of base of `COMPARED_METRICS`, for this run and the tenant's other
    succeeded runs (the latest of each other scenario, up to `MAX_COMPARED_RUNS` in all)."""
    runs, _ = risk_service.list_runs(session, tenant=tenant, limit=200)
    chosen = [run]
    seen = {run.scenario_name}
    for other in runs:
        if len(chosen) >= MAX_COMPARED_RUNS:
            break
        if other.status == "succeeded" and other.scenario_name not in seen:
            chosen.append(other)
            seen.add(other.scenario_name)
    out: dict[str, dict[str, float]] = {}
    for r in chosen:
        aggregate = risk_service.results_json(session, r)["aggregate"]
        out[r.scenario_name] = {
            m: 100.0 * aggregate[m]["stressed"] / aggregate[m]["base"]
            for m in COMPARED_METRICS
            if m in aggregate and aggregate[m]["base"] and aggregate[m]["stressed"] is not None
        }
    return out


def stress_context(session: Session, run_id: int, tenant: str) -> dict[str, Any]:
    """Everything the stress report shows (another tenant's run is a NotFoundError; a run
    that has not succeeded is a ConflictError, 409)."""
    run = risk_service.get_run(session, run_id, tenant=tenant)
    results = risk_service.results_json(session, run)
    aggregate = results["aggregate"]
    definition = results.get("scenario_definition") or {}
    rows = [
        (m, aggregate[m]["base"], aggregate[m]["stressed"])
        for m in MAIN_METRICS
        if m in aggregate
        and aggregate[m]["base"] is not None
        and aggregate[m]["stressed"] is not None
    ]
    svg = (
        charts.stress_metrics(rows, f"{run.scenario_name}: stressed as % of base") if rows else None
    )
    record = results.get("record") or {}
    compared = by_scenario(session, run, tenant)
    compared_svg = (
        charts.scenarios_metrics(COMPARED_METRICS, compared) if len(compared) > 1 else None
    )
    ctx = base_context(f"Stress report {run.scenario_name} ({run.id})")
    ctx.update(
        {
            "run": risk_service.run_view(run),
            "scenario": run.scenario_name,
            "definition": definition,
            "shocks": definition.get("shocks") or {},
            "rationale": library_rationale(run.scenario_name),
            "aggregate": aggregate,
            "ratio_metrics": RATIO_METRICS,
            "chart_svg": svg,
            "compared": compared,
            "compared_metrics": COMPARED_METRICS,
            "compared_svg": compared_svg,
            "worst": worst_positions(results["positions"]),
            "n_positions": len(results["positions"]),
            "reverse": results.get("reverse"),
            "record": record,
            "notes": record.get("notes") or [],
        }
    )
    return ctx
