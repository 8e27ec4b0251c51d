"""Demo step owned by VALUATION: value every sample asset and print the table."""

from __future__ import annotations

from api.demo_steps import DemoContext
from api.services import valuation as service

ACTOR = "demo"
PATHS = 10_000


def _m(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 1e6:,.2f}"


def run(ctx: DemoContext) -> None:
    """Value each registered sample asset (stored with its quote) and print one row per asset.

    Leaves ``ctx.state["valuation_ids"]``: {asset_id: valuation_id}.
    """
    asset_ids = list(ctx.state.get("asset_ids", []))
    ids: dict[int, int] = {}
    header = (
        f"{'asset':<34} {'income':>9} {'cost':>9} {'market':>9} {'value':>9} "
        f"{'p05 - p95':>19} {'lending':>9} {'haircut':>8}"
    )
    ctx.out(f"Valuations as of {ctx.as_of} (CNY millions, {PATHS:,} Monte Carlo paths each)")
    ctx.out(header)
    ctx.out("-" * len(header))
    for i, asset_id in enumerate(asset_ids):
        with ctx.session_factory() as session:
            created = service.create_valuation(
                session,
                asset_id,
                as_of=ctx.as_of,
                currency="CNY",
                paths=PATHS,
                seed=ctx.seed + i,
                tenant=ctx.tenant,
                actor=ACTOR,
                publish=True,  # the exchange's appraisal: the assets' public quotes
            )
            name = service.load_inputs(session, asset_id).asset.name
        r = created.result
        ids[int(asset_id)] = int(created.row.id)  # type: ignore[arg-type]
        methods = {
            m: (r.methods[m].value if m in r.methods else None)
            for m in ("income", "cost", "market")
        }
        band = f"{_m(r.distribution.p05)} - {_m(r.distribution.p95)}"
        ctx.out(
            f"{name[:34]:<34} {_m(methods['income']):>9} {_m(methods['cost']):>9} {_m(methods['market']):>9} "
            f"{_m(r.value):>9} {band:>19} {_m(r.quote.lending_value):>9} {r.quote.haircut:>8.1%}"
        )
    ctx.state["valuation_ids"] = ids
