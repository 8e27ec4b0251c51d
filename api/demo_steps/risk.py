"""Demo step owned by RISK: two library scenarios over the demo book, base vs stressed.

Runs ``data_demand_slump`` and ``severe_combined`` in one evaluation (common random
numbers, so the base column is shared) over the demo tenant's book -- the assets the
registry step registered and any loans and securitizations the credit and products
steps created -- through the same service the API and CLI use, and prints the aggregate
figures side by side.
"""

from __future__ import annotations

from api.cli_risk import _fmt
from api.demo_steps import DemoContext
from api.services import risk as service
from risk.runner import RunConfig

SCENARIOS = ("data_demand_slump", "severe_combined")


def run(ctx: DemoContext) -> None:
    """Stress the demo book under two library scenarios and print the aggregates."""
    config = RunConfig(n_paths=256, seed=ctx.seed + 6)
    results, built = service.stress_now(ctx.session_factory, ctx.tenant, list(SCENARIOS),
                                        as_of=ctx.as_of, config=config)
    book = built.book
    ctx.out(f"Stress test of tenant {ctx.tenant!r}: {len(book.assets)} assets, "
            f"{len(book.loans)} loans, {len(book.tranches)} tranches ({book.currency}); "
            f"{config.n_paths} paths, seed {config.seed}")
    header = f"  {'metric':<24}{'base':>18}" + "".join(f"{r.scenario.name:>26}" for r in results)
    ctx.out(header)
    first = results[0].aggregate
    for metric in first.index:
        cells = "".join(
            f"{_fmt(r.aggregate.loc[metric, 'stressed']) + ' (' + _delta(r, metric) + ')':>26}"
            for r in results)
        ctx.out(f"  {metric:<24}{_fmt(first.loc[metric, 'base']):>18}{cells}")
    for note in built.notes:
        ctx.out(f"  note: {note}")
    ctx.state["stress_scenarios"] = list(SCENARIOS)


def _delta(result, metric: str) -> str:  # type: ignore[no-untyped-def]
    base = float(result.aggregate.loc[metric, "base"])
    delta = float(result.aggregate.loc[metric, "delta"])
    if base == 0.0 or delta != delta:
        return _fmt(delta)
    return f"{delta / abs(base):+.1%}"
