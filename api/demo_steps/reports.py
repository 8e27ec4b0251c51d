"""Demo step: write the demo's documents to ``reports/`` and print their paths.

Runs and stores one stress run (``data_demand_slump``, a small number of paths) so the
stress report has a run to show, then writes, as PDF: the appraisal report of the first
sample asset's valuation, the collateral certificate of the first demo loan, the deal
report of the demo securitization and the stress report. The folder is
``ctx.state["reports_dir"]`` (default ``reports`` in the working directory; gitignored).
"""

from __future__ import annotations

from pathlib import Path

from api.demo_steps import DemoContext
from api.reports import documents
from api.services import risk as risk_service
from models.db import row_id

ACTOR = "demo"
STRESS_SCENARIO = "data_demand_slump"
STRESS_PATHS = 128


def run(ctx: DemoContext) -> None:
    """Write the four documents and print where they are."""
    folder = Path(ctx.state.get("reports_dir", "reports"))
    folder.mkdir(parents=True, exist_ok=True)
    with ctx.session_factory() as session:
        run_row = risk_service.create_run(
            session,
            STRESS_SCENARIO,
            tenant=ctx.tenant,
            actor=ACTOR,
            paths=STRESS_PATHS,
            seed=ctx.seed,
            as_of=ctx.as_of,
        )
        run_id = row_id(run_row)
    risk_service.execute_run(ctx.session_factory, run_id, as_of=ctx.as_of)
    ctx.state["stress_run_id"] = run_id
    wanted: list[tuple[str, object, str]] = []
    valuation_ids = ctx.state.get("valuation_ids") or {}
    if valuation_ids:
        wanted.append(("valuation", next(iter(valuation_ids.values())), "appraisal report"))
    if ctx.state.get("loan_ids"):
        wanted.append(("loan", ctx.state["loan_ids"][0], "collateral certificate"))
    if ctx.state.get("securitization_ids"):
        wanted.append(("deal", ctx.state["securitization_ids"][0], "deal report"))
    wanted.append(("stress", run_id, "stress report"))
    written = []
    with ctx.session_factory() as session:
        for kind, object_id, label in wanted:
            data, stem = documents.build(kind, session, object_id, ctx.tenant, "pdf")
            path = folder / f"{stem}.pdf"
            path.write_bytes(data)
            written.append((label, path))
    ctx.out(
        f"Documents of the demo (stress run {run_id}: {STRESS_SCENARIO}, {STRESS_PATHS} paths):"
    )
    for label, path in written:
        ctx.out(f"  {label:<23} {path}")
    ctx.state["report_paths"] = [str(p) for _l, p in written]
