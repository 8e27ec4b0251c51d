"""``datafin stress SCENARIO``: run a stress scenario over a tenant's book.

SCENARIO is a built-in or stored scenario name, or a path to a JSON scenario file
(API.md's shape). The run is stored like an API run (``stress_run`` and its results), with
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


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    v = float(x)
    return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.6g}"


def aggregate_table(aggregate: dict[str, dict[str, Any]]) -> str:
    """The aggregate figures as an aligned text table."""
    lines = [f"{'metric':<24}{'base':>20}{'stressed':>20}{'delta':>20}"]
    for metric, cell in aggregate.items():
        lines.append(f"{metric:<24}{_fmt(cell['base']):>20}{_fmt(cell['stressed']):>20}"
                     f"{_fmt(cell['delta']):>20}")
    return "\n".join(lines)


def stress(
    scenario: Annotated[str, typer.Argument(help="Scenario name (built-in or stored) or a "
                                                 "JSON scenario file.")],
    tenant: Annotated[str, typer.Option(help="Tenant whose book is stressed.")] = "demo",
    paths: Annotated[int, typer.Option(min=16, max=4096, help="Monte Carlo paths per asset.")]
    = 256,
    seed: Annotated[int, typer.Option(min=0, help="Root seed (recorded with the run).")]
    = 20_260_101,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full results as JSON.")]
    = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Valuation date YYYY-MM-DD "
                                                               "(default: today).")] = None,
) -> None:
    """Run a stress scenario over the tenant's book and print base vs stressed."""
    from api import cli
    from api.services import risk as service
    from api.settings import Settings
    from models import db
    from models.risk import StressRun
    from valuation.conventions import parse_date

    ref: str | dict[str, Any] = scenario
    path = Path(scenario)
    if scenario.endswith(".json") or path.is_file():
        with cli.reported_errors():
            ref = json.loads(path.read_text(encoding="utf-8"))
    settings = Settings()
    with cli.reported_errors():
        valuation_date = parse_date(as_of, field="as_of") if as_of else None
    with cli.current_engine() as engine:
        factory = db.make_session_factory(engine)
        with cli.reported_errors(), factory() as session:
            run = service.create_run(session, ref, tenant=tenant, actor=cli.CLI_ACTOR,
                                     paths=paths, seed=seed)
            run_id = run.id
        with typer.progressbar(length=1000, label=f"stress {run.scenario_name}",
                               file=sys.stderr) as bar:
            done = [0]

            def on_progress(fraction: float) -> None:
                step = int(round(fraction * 1000)) - done[0]
                if step > 0:
                    bar.update(step)
                    done[0] += step

            service.execute_run(factory, run_id, on_progress=on_progress,
                                dask_address=settings.dask_scheduler, as_of=valuation_date)
        with factory() as session:
            run = session.get(StressRun, run_id)
            if run is None or run.status != "succeeded":
                cli.fail(f"stress run {run_id} failed: {run.error if run else 'missing'}")
            doc = service.results_json(session, run)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    record = doc.get("record") or {}
    counts = record.get("positions", {})
    typer.echo(f"run {run_id}  scenario {doc['scenario']}  tenant {tenant}  "
               f"assets {counts.get('assets', 0)}  loans {counts.get('loans', 0)}  "
               f"tranches {counts.get('tranches', 0)}  currency {record.get('currency', '')}")
    typer.echo(aggregate_table(doc["aggregate"]))
    for note in record.get("notes", []):
        typer.echo(f"note: {note}", err=True)
