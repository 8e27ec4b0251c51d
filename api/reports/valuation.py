"""Appraisal report of a stored valuation.

Contents in the order an appraiser writes them, after the China Appraisal Society's
2023 guidance on data-asset appraisal (what a data-asset appraisal report must disclose)
and IVS 103 (reporting): the asset (certificate number, fingerprint, rights and their
term, the six quality dimensions of GB/T 36344), purpose and value type, ``as_of``, the
approaches used and why (and why any was not), every assumption with its source, the
income forecast chart, the value distribution, the reconciliation rationale, the
sensitivity table, the warnings, the quote, the model and library versions and the
inputs hash.

The stored valuation is the record: every figure in the tables comes from it. The two
charts need the simulated paths, which are not stored; they are drawn from a re-run of
the stored inputs with the stored seed, and the report says whether the re-run
reproduced the stored value (it does unless the inputs or the model changed since).
Fields that newer valuations carry (``warnings``, ``reconciliation``, ``sensitivities``,
``model``, per-approach ``distribution``, ``rights.term_months``) are shown when the
valuation has them and marked "not available" when it predates them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlmodel import Session

from api.reports import charts
from api.reports.common import base_context, library_versions
from api.services import quotes as quote_service
from api.services import registry
from api.services import signals as signal_service
from api.services import valuation as valuation_service
from models.valuation import Valuation
from valuation import AssetValuation
from valuation.conventions import first_of_month

APPROACHES = ("income", "cost", "market")

PURPOSE = (
    "Collateral value: the value of the data asset as security for lending, for a "
    "lender's credit decision. Basis of value: market value (IVS 104) of the rights "
    "held, reconciled from the income, cost and market approaches (CAS 2023 guidance "
    "on data-asset appraisal); the lending value applies the liquidation haircut "
    "shown with the quote."
)

WHY = {
    "income": "the asset earns revenue: its monthly history allows a forecast of the cash "
    "flows the rights earn",
    "cost": "the asset's development and upkeep costs are recorded: the cost to recreate it, "
    "less obsolescence",
    "market": "exchange transactions of comparable data assets are recorded",
}

SOURCE_SUFFIX = "_source"


def _rerun(session: Session, row: Valuation, doc: Mapping[str, Any]) -> tuple[Any | None, str]:
    """Re-run the stored valuation for its paths; (result or None, a sentence on it)."""
    base: dict[str, Any] = {
        "as_of": row.as_of,
        "currency": row.currency,
        "paths": row.paths,
        "seed": row.seed,
        "assumptions": doc.get("assumptions") or None,
    }
    stored = float(row.value)
    attempts: list[Mapping[str, float] | None] = [None]
    if doc.get("weights"):
        attempts.append(doc["weights"])
    result: AssetValuation | None = None
    for weights in attempts:
        try:
            result = valuation_service.value_registered_asset(
                session, row.asset_id, weights=weights, **base
            )
        except Exception as exc:  # the charts are optional: say why they are missing
            return None, f"the stored inputs could not be re-run ({exc.__class__.__name__}: {exc})"
        if math.isclose(result.value, stored, rel_tol=1e-6, abs_tol=0.01):
            return result, (
                f"drawn from a re-run of the stored inputs with seed {row.seed} and "
                f"{row.paths:,} paths, which reproduced the stored value"
            )
    if result is None:
        return None, "the stored inputs could not be re-run"
    return result, (
        "drawn from a re-run with the stored seed, which did NOT reproduce the stored "
        f"value (it gave {result.value:,.2f}): the inputs or the model (now "
        f"{result.model_version}) changed since; the charts are indicative only"
    )


def income_chart(session: Session, row: Valuation, result: Any | None) -> tuple[str | None, str]:
    """SVG of revenue history, fitted trend and forecast fan; or None and why not."""
    signals = signal_service.signals_frame(session, row.asset_id)
    rev = signals[signals["metric"] == "revenue"].sort_values("month")
    history = [
        (m.date() if hasattr(m, "date") else m, float(v))
        for m, v in zip(rev["month"], rev["value"], strict=True)
        if (m.date() if hasattr(m, "date") else m) < row.as_of
    ]
    fitted = None
    try:
        from valuation.forecast import revenue_forecast
        from valuation.signals import clean_signals

        fit = revenue_forecast(clean_signals(signals, as_of=row.as_of, currency=row.currency))
        if fit.source == "revenue":
            t = np.arange(fit.last_t + 1, dtype=np.float64)
            values = np.exp(fit.log_fit(t))
            fitted = [
                (first_of_month(fit.start, int(k)), float(v))
                for k, v in zip(t, values, strict=True)
            ]
    except Exception:  # no usable revenue history, or a model without a fit: history only
        fitted = None
    dates = p05 = p50 = p95 = None
    sim = getattr(result, "simulation", None)
    if sim is not None:
        try:
            gross = np.asarray(sim.gross_revenue(), dtype=np.float64)
            horizon = min(gross.shape[1], 60)
            q = np.quantile(gross[:, :horizon], [0.05, 0.5, 0.95], axis=0)
            dates = list(sim.dates[:horizon])
            p05, p50, p95 = q[0], q[1], q[2]
        except Exception:
            dates = None
    if not history and dates is None:
        return None, "not available: the asset has no revenue history and no income simulation"
    svg = charts.income_forecast(
        history, fitted, dates, p05, p50, p95, currency=row.currency, as_of=row.as_of
    )
    parts = ["points: monthly revenue recorded before the valuation date"]
    parts.append("line: fitted trend" if fitted else "fitted trend not available")
    parts.append(
        "band: simulated revenue after obsolescence, p05-p95, first 60 months, dashed its median"
        if dates is not None
        else "forecast fan not available (no income simulation)"
    )
    return svg, "; ".join(parts) + "."


def _value_samples(result: Any, n: int = 20_000) -> np.ndarray | None:
    """Equal-weight samples of the reconciled value: each approach's own distribution
    (quantile-spaced, so deterministic) in proportion to its weight in the mixture."""
    mixture = getattr(result, "mixture", None)
    if mixture is None:
        return None
    parts = []
    for m, w in mixture.weights.items():
        k = int(round(w * n))
        values = np.asarray(mixture.samples.get(m, ()), dtype=np.float64)
        if k > 0 and values.size:
            parts.append(np.quantile(values, (np.arange(k) + 0.5) / k))
    return np.concatenate(parts) if parts else None


def value_chart(pub: Mapping[str, Any], result: Any | None) -> tuple[str, str]:
    dist = pub["distribution"]
    approaches = {m: (pub["methods"].get(m) or {}).get("value") for m in APPROACHES}
    samples = None
    if result is not None:
        samples = _value_samples(result)
        if samples is not None:
            q05, q95 = np.quantile(samples, [0.05, 0.95])
            width = max(abs(dist["p95"] - dist["p05"]), abs(dist["p50"]) * 1e-6, 1.0)
            if (
                abs(q05 - dist["p05"]) > 0.02 * width + 1.0
                or abs(q95 - dist["p95"]) > 0.02 * width + 1.0
            ):
                samples = None  # not the stored distribution: show the markers only
    svg = charts.value_histogram(
        samples, approaches, pub["value"], dist["p05"], dist["p95"], currency=pub["currency"]
    )
    caption = (
        "grey: simulated reconciled value; lines: each approach's value and the "
        "reconciled value; shaded: p05-p95"
        if samples is not None
        else "histogram not available (the simulated distribution could not be rebuilt); "
        "lines: each approach's value and the reconciled value; shaded: stored p05-p95"
    )
    return svg, caption + "."


def assumption_rows(pub: Mapping[str, Any], given: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every assumption of every approach with its source (given, default, or the
    method's own ``<name>_source``)."""
    rows = []
    for m in APPROACHES:
        method = pub["methods"].get(m) or {}
        assumptions = method.get("assumptions") or {}
        for key, value in assumptions.items():
            if key.endswith(SOURCE_SUFFIX):
                continue
            if key in given:
                source = "given in the request"
            elif f"{key}{SOURCE_SUFFIX}" in assumptions:
                source = str(assumptions[f"{key}{SOURCE_SUFFIX}"])
            else:
                source = "default"
            rows.append({"approach": m, "name": key, "value": value, "source": source})
    quote_params = pub.get("quote_parameters") or {}
    for key, value in quote_params.items():
        rows.append(
            {
                "approach": "quote",
                "name": key,
                "value": value,
                "source": "given in the request" if key in given else "default",
            }
        )
    return rows


def approach_rows(pub: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    weights = pub.get("weights") or {}
    for m in APPROACHES:
        method = pub["methods"].get(m) or {}
        diag = method.get("diagnostics") or {}
        used = method.get("value") is not None
        evidence = []
        if m == "income" and isinstance(diag.get("fit"), Mapping):
            fit = diag["fit"]
            evidence.append(
                f"{fit.get('n_months')} months of {fit.get('source', 'revenue')}, "
                f"{fit.get('model')} trend"
            )
        if m == "cost" and diag.get("occurrences") is not None:
            evidence.append(f"{diag['occurrences']} cost occurrences")
        if m == "market" and diag.get("comparables_used") is not None:
            evidence.append(
                f"{diag['comparables_used']} comparables, "
                f"{(method.get('assumptions') or {}).get('method', '')}"
            )
        dist = method.get("distribution") or None
        rows.append(
            {
                "name": m,
                "used": used,
                "value": method.get("value"),
                "weight": weights.get(m),
                "why": WHY[m] + (f" ({'; '.join(evidence)})" if evidence else "")
                if used
                else f"not used: {method.get('unavailable') or 'no reason recorded'}",
                "distribution": dist,
            }
        )
    return rows


def valuation_context(session: Session, valuation_id: int) -> dict[str, Any]:
    """Everything the appraisal report shows (NotFoundError -> 404 when there is none)."""
    pub = dict(quote_service.get_valuation(session, valuation_id))
    row = session.get(Valuation, valuation_id)
    assert row is not None  # get_valuation raised otherwise
    doc = json.loads(row.result_json)
    for key in ("warnings", "reconciliation", "sensitivities", "model"):
        if pub.get(key) is None and doc.get(key) is not None:
            pub[key] = doc[key]
    quote_doc = doc.get("quote") or {}
    pub["quote_parameters"] = quote_doc.get("parameters") or {}
    asset = registry.asset_public(registry.get_asset(session, row.asset_id)).model_dump(mode="json")
    given = dict(doc.get("assumptions") or {})
    result, rerun_note = _rerun(session, row, doc)
    income_svg, income_caption = income_chart(session, row, result)
    value_svg, value_caption = value_chart(pub, result)
    model = pub.get("model") if isinstance(pub.get("model"), Mapping) else None
    ctx = base_context(f"Appraisal report: valuation {valuation_id}")
    ctx.update(
        {
            "v": pub,
            "asset": asset,
            "purpose": PURPOSE,
            "approaches": approach_rows(pub),
            "assumptions": assumption_rows(pub, given),
            "given": given,
            "income_svg": income_svg,
            "income_caption": income_caption,
            "value_svg": value_svg,
            "value_caption": value_caption,
            "rerun_note": rerun_note,
            "warnings": pub.get("warnings"),
            "reconciliation": pub.get("reconciliation"),
            "sensitivities": pub.get("sensitivities"),
            "quote": pub["quote"],
            "quote_parameters": pub["quote_parameters"],
            "model": model,
            "model_version": (model or {}).get("version") or pub.get("model_version"),
            "libraries": (model or {}).get("libraries"),
            "report_libraries": library_versions(),
            "notes": pub.get("notes") or [],
            "market": doc.get("market"),
            "rerun_command": (
                f"datafin value {row.asset_id} --as-of {row.as_of.isoformat()} "
                f"--currency {row.currency} --paths {row.paths} --seed {row.seed}"
                + (f" --assumptions '{json.dumps(given, sort_keys=True)}'" if given else "")
            ),
        }
    )
    return ctx
