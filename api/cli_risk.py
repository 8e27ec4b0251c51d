"""``datafin stress SCENARIO``: run a stress scenario over a tenant's book.

SCENARIO is a built-in or stored scenario name, or a path to a JSON scenario file
(the API contract's shape). The run is stored like an API run (``stress_run`` and its results), with
a progress bar on stderr while it runs; the aggregate table (base, stressed, delta) is
printed on stdout, or the full results as JSON with ``--json``. Honours ``DATABASE_URL``;
``DASK_SCHEDULER`` sends the chunks to a Dask cluster.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

#: How the aggregate metrics read: ratios and probabilities in per cent with changes in
#: percentage points, counts of loans, prices per 100 of notional; the rest is money in
#: the book's currency, with changes also relative to the base.
RATIO_METRICS = frozenset({"ltv", "pd", "lgd", "tranche_expected_loss"})
COUNT_METRICS = frozenset({"margin_calls"})
PRICE_METRICS = frozenset({"price"})
#: Display-only row: IRB capital (unexpected loss) plus expected loss, the total the
#: book must absorb; it keeps rising when stressed PDs near 1 turn capital into EL.
CAPITAL_PLUS_EL = "capital + expected_loss"


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _fmt(x: Any) -> str:
    v = _finite(x)
    if v is None:
        return "-"
    return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.6g}"


def unit_of(metric: str, currency: str = "") -> str:
    if metric in RATIO_METRICS:
        return "%"
    if metric in COUNT_METRICS:
        return "loans"
    if metric in PRICE_METRICS:
        return "per 100"
    return currency or "money"


def fmt_value(metric: str, x: Any) -> str:
    """A figure in its metric's unit (see `unit_of`)."""
    v = _finite(x)
    if v is None:
        return "-"
    if metric in RATIO_METRICS:
        return f"{100.0 * v:.2f}%"
    if metric in COUNT_METRICS:
        return f"{v:.0f}"
    if metric in PRICE_METRICS:
        return f"{v:.2f}"
    return f"{v:,.0f}"


def fmt_change(metric: str, base: Any, delta: Any, *, compact: bool = False) -> str:
    """A change: percentage points for ratios, loans for counts, points per 100 for
    prices, money with its change relative to the base otherwise (``compact``: the
    relative change alone)."""
    d, b = _finite(delta), _finite(base)
    if d is None:
        return "-"
    if metric in RATIO_METRICS:
        return f"{100.0 * d:+.2f} pp"
    if metric in COUNT_METRICS:
        return f"{d:+.0f}"
    if metric in PRICE_METRICS:
        return f"{d:+.2f}"
    if compact:
        return f"{d / abs(b):+.1%}" if b else f"{d:+,.0f}"
    rel = f" ({d / abs(b):+.1%})" if b else ""
    return f"{d:+,.0f}{rel}"


def with_derived(aggregate: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The aggregate with `CAPITAL_PLUS_EL` inserted after ``capital`` (display only)."""
    out: dict[str, dict[str, Any]] = {}
    for metric, cell in aggregate.items():
        out[metric] = cell
        if metric == "capital" and "expected_loss" in aggregate:
            el = aggregate["expected_loss"]
            parts = [(_finite(cell[k]), _finite(el[k])) for k in ("base", "stressed")]
            if all(a is not None and e is not None for a, e in parts):
                base, stressed = (a + e for a, e in parts)  # type: ignore[operator]
                out[CAPITAL_PLUS_EL] = {
                    "base": base,
                    "stressed": stressed,
                    "delta": stressed - base,
                }
    return out


def reading_notes(
    aggregate: dict[str, dict[str, Any]], booked: dict[str, float] | None, currency: str = ""
) -> list[str]:
    """What a risk officer needs to read the table right."""
    notes = [
        "base = the stress engine's revaluation at the as-of date with no shock (same "
        "random numbers as the stressed column); ltv, pd, lgd are EAD-weighted; "
        "loss_var / loss_es: one-year loan-book loss at 99.9 %; tranche figures are "
        "notional-weighted (expected loss as a share of tranche notional)"
    ]
    if booked and "expected_loss" in aggregate:
        ccy = f" {currency}" if currency else ""
        parts = ", ".join(f"{k} {v:,.0f}{ccy}" for k, v in booked.items())
        notes.append(
            f"booked on the loans by credit (at origination or last revaluation): "
            f"{parts}; the base takes each loan at its outstanding balance on the "
            "as-of date, re-simulates the collateral and takes LGD from the "
            "collateral outcomes on the default paths, so it need not equal them"
        )
    cap, el = aggregate.get("capital"), aggregate.get("expected_loss")
    if cap and el and (_finite(cap["delta"]) or 0.0) < 0 < (_finite(el["delta"]) or 0.0):
        notes.append(
            "capital is IRB unexpected loss (K x EAD): as stressed PDs approach 1 "
            "the loss moves into expected_loss and K falls; read "
            f"'{CAPITAL_PLUS_EL}'"
        )
    return notes


def aggregate_table(aggregate: dict[str, dict[str, Any]], currency: str = "") -> str:
    """The aggregate figures as an aligned text table (units per row, see `unit_of`)."""
    rows = with_derived(aggregate)
    width = max([24, *(len(m) + 2 for m in rows)])
    lines = [f"{'metric':<{width}}{'unit':<9}{'base':>18}{'stressed':>18}{'change':>26}"]
    for metric, cell in rows.items():
        lines.append(
            f"{metric:<{width}}{unit_of(metric, currency):<9}"
            f"{fmt_value(metric, cell['base']):>18}"
            f"{fmt_value(metric, cell['stressed']):>18}"
            f"{fmt_change(metric, cell['base'], cell['delta']):>26}"
        )
    return "\n".join(lines)


def stress(
    scenario: Annotated[
        str, typer.Argument(help="Scenario name (built-in or stored) or a JSON scenario file.")
    ],
    tenant: Annotated[str, typer.Option(help="Tenant whose book is stressed.")] = "demo",
    paths: Annotated[
        int, typer.Option(min=16, max=4096, help="Monte Carlo paths per asset.")
    ] = 256,
    seed: Annotated[
        int, typer.Option(min=0, help="Root seed (recorded with the run).")
    ] = 20_260_101,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full results as JSON.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Valuation date YYYY-MM-DD (default: today).")
    ] = None,
    reverse_limit: Annotated[
        str | None,
        typer.Option(
            "--reverse-limit",
            help="Also find the smallest scale of the scenario that breaks a "
            "limit: expected_loss_budget, senior_tranche_loss or margin_calls.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="The limit for --reverse-limit: EL budget (currency), senior tranche EL "
            "(fraction of notional, default 0.0001) or margin calls allowed (loans)."
        ),
    ] = None,
    max_scale: Annotated[
        float, typer.Option(help="Largest scale searched by --reverse-limit.")
    ] = 4.0,
) -> None:
    """Run a stress scenario over the tenant's book and print base vs stressed."""
    from api import cli_common
    from api.services import reverse_stress as reverse_stress_service
    from api.services import risk as service
    from api.settings import Settings
    from models import db
    from models.db import row_id
    from models.risk import StressRun
    from valuation.conventions import parse_date

    ref: str | dict[str, Any] = scenario
    path = Path(scenario)
    if scenario.endswith(".json") or path.is_file():
        with cli_common.reported_errors():
            ref = json.loads(path.read_text(encoding="utf-8"))
    settings = Settings()
    reverse = None
    if reverse_limit is not None:
        reverse = {
            "limit": reverse_limit,
            "max_scale": max_scale,
            **({"threshold": threshold} if threshold is not None else {}),
        }
        if (
            threshold is not None
            and reverse_limit == "margin_calls"
            and float(threshold).is_integer()
        ):
            reverse["threshold"] = int(threshold)
    with cli_common.reported_errors():
        valuation_date = parse_date(as_of, field="as_of") if as_of else None
        reverse_stress_service.parse_reverse(reverse)
    with cli_common.current_engine() as engine:
        factory = db.make_session_factory(engine)
        with cli_common.reported_errors(), factory() as session:
            run = service.create_run(
                session,
                ref,
                tenant=tenant,
                actor=cli_common.CLI_ACTOR,
                paths=paths,
                seed=seed,
                reverse=reverse,
            )
            run_id = row_id(run)
        with typer.progressbar(
            length=1000, label=f"stress {run.scenario_name}", file=sys.stderr
        ) as bar:
            done = [0]

            def on_progress(fraction: float) -> None:
                step = int(round(fraction * 1000)) - done[0]
                if step > 0:
                    bar.update(step)
                    done[0] += step

            service.execute_run(
                factory,
                run_id,
                on_progress=on_progress,
                dask_address=settings.dask_scheduler,
                as_of=valuation_date,
            )
        with factory() as session:
            finished = session.get(StressRun, run_id)
            if finished is None or finished.status != "succeeded":
                cli_common.fail(
                    f"stress run {run_id} failed: {finished.error if finished else 'missing'}"
                )
            doc = service.results_json(session, finished)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    record = doc.get("record") or {}
    counts = record.get("positions", {})
    currency = str(record.get("currency", ""))
    typer.echo(
        f"run {run_id}  scenario {doc['scenario']}  tenant {tenant}  "
        f"assets {counts.get('assets', 0)}  loans {counts.get('loans', 0)}  "
        f"tranches {counts.get('tranches', 0)}  currency {currency}  "
        f"as of {record.get('as_of', '')}  paths {record.get('n_paths', '')}  "
        f"seed {record.get('seed', '')}"
    )
    typer.echo(aggregate_table(doc["aggregate"], currency))
    rev = doc.get("reverse")
    if rev:
        typer.echo(
            f"reverse stress: {rev['limit']} > {rev['threshold']:g} ({rev['unit']}): "
            f"{rev['reading']}"
        )
    for note in reading_notes(doc["aggregate"], record.get("booked"), currency):
        typer.echo(f"note: {note}")
    for note in record.get("notes", []):
        typer.echo(f"note: {note}", err=True)
