"""Demo step owned by RISK: two library scenarios over the demo book, base vs stressed.

Runs ``data_demand_slump`` and ``severe_combined`` in one evaluation (common random
numbers, so the base column is shared) over the demo tenant's book -- the assets the
registry step registered and any loans and securitizations the credit and products
steps created -- through the same service the API and CLI use, and prints the aggregate
figures side by side.
"""

from __future__ import annotations

from typing import Any

from api.cli_risk import fmt_change, fmt_value, reading_notes, unit_of, with_derived
from api.demo_steps import DemoContext
from api.services import risk as service
from risk.inputs import RunConfig

SCENARIOS = ("data_demand_slump", "severe_combined")


def _aggregate(result: Any) -> dict[str, dict[str, Any]]:
    return {
        str(m): {"base": r.base, "stressed": r.stressed, "delta": r.delta}
        for m, r in result.aggregate.iterrows()
    }


def run(ctx: DemoContext) -> None:
    """Stress the demo book under two library scenarios and print the aggregates."""
    config = RunConfig(n_paths=256, seed=ctx.seed + 6)
    results, built = service.stress_now(
        ctx.session_factory, ctx.tenant, list(SCENARIOS), as_of=ctx.as_of, config=config
    )
    book = built.book
    ctx.out(
        f"Stress test of tenant {ctx.tenant!r} as of {ctx.as_of}: {len(book.assets)} "
        f"assets, {len(book.loans)} loans, {len(book.tranches)} tranches "
        f"({book.currency}); {config.n_paths} paths, seed {config.seed}"
    )
    tables = [with_derived(_aggregate(r)) for r in results]
    first = tables[0]
    width = max([24, *(len(m) + 2 for m in first)])
    header = f"  {'metric':<{width}}{'unit':<9}{'base':>16}" + "".join(
        f"{r.scenario.name + ' (change)':>32}" for r in results
    )
    ctx.out(header)
    for metric, cell in first.items():
        cells = "".join(
            f"{fmt_value(metric, t[metric]['stressed']) + ' (' + fmt_change(metric, t[metric]['base'], t[metric]['delta'], compact=True) + ')':>32}"  # noqa: E501
            for t in tables
        )
        ctx.out(
            f"  {metric:<{width}}{unit_of(metric, book.currency):<9}"
            f"{fmt_value(metric, cell['base']):>16}{cells}"
        )
    notes: list[str] = []
    for r in results:
        notes += [
            n for n in reading_notes(_aggregate(r), built.booked, book.currency) if n not in notes
        ]
    for note in notes:
        ctx.out(f"  note: {note}")
    for note in built.notes:
        ctx.out(f"  note: {note}")
    ctx.state["stress_scenarios"] = list(SCENARIOS)
