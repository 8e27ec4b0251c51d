"""Demo step: register the sample assets with their signals and costs, and the comparables.

Goes through ``api.services.registry``, the same code as ``POST /v1/assets``,
``PUT /v1/assets/{id}/signals``, ``POST /v1/assets/{id}/costs`` and ``POST /v1/comparables``.
Leaves in ``ctx.state``: ``"samples"`` (the `samples.data_assets.SampleData`), ``"asset_ids"``
(ids in sample order) and ``"assets"`` ({id: SampleAsset}).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from api.demo_steps import DemoContext
from api.schemas.registry import AssetRegister, ComparableIn, CostRecordIn
from api.services import comparables as comparable_service
from api.services import registry
from api.services import signals as signal_service
from samples.data_assets import SampleData, generate_samples
from valuation.results import COMPARABLE_FRAME_COLUMNS

ACTOR = "demo"


def signal_rows(signals: pd.DataFrame) -> list[dict[str, Any]]:
    """A signals frame (month Timestamp, metric, value) as API rows (month ``YYYY-MM``)."""
    return [
        {"month": f"{month:%Y-%m}", "metric": metric, "value": float(value)}
        for month, metric, value in signals[["month", "metric", "value"]].itertuples(index=False)
    ]


def cost_records(costs: pd.DataFrame) -> list[CostRecordIn]:
    """A costs frame as validated cost records."""
    return [
        CostRecordIn(
            category=c, amount=float(a), currency=ccy, incurred_on=d, recurring_months=int(n)
        )
        for c, a, ccy, d, n in costs[
            ["category", "amount", "currency", "incurred_on", "recurring_months"]
        ].itertuples(index=False)
    ]


def comparable_records(comparables: pd.DataFrame) -> list[ComparableIn]:
    """A comparables frame as validated records."""
    columns = list(COMPARABLE_FRAME_COLUMNS)
    return [
        ComparableIn(
            category=c,
            price=float(p),
            currency=ccy,
            traded_on=d,
            records=int(n),
            quality_score=float(q),
            rights_scope=s,
            annual_revenue=None if pd.isna(r) else float(r),
        )
        for c, p, ccy, d, n, q, s, r in comparables[columns].itertuples(index=False)
    ]


def run(ctx: DemoContext) -> None:
    """Register every sample asset for ``ctx.tenant`` and print the registry table."""
    samples: SampleData = generate_samples(ctx.seed)
    ctx.state["samples"] = samples
    ctx.as_of = samples.as_of
    asset_ids: list[int] = []
    table: list[tuple[str, ...]] = []
    with ctx.session_factory() as session:
        for sample in samples.assets:
            asset = registry.register_asset(
                session,
                AssetRegister.model_validate(sample.profile),
                tenant=ctx.tenant,
                actor=ACTOR,
            )
            assert asset.id is not None
            signal_service.import_signals(
                session, asset.id, signal_rows(sample.signals), tenant=ctx.tenant, actor=ACTOR
            )
            registry.add_costs(
                session, asset.id, cost_records(sample.costs), tenant=ctx.tenant, actor=ACTOR
            )
            asset_ids.append(asset.id)
            stored = signal_service.signals_frame(session, asset.id)
            revenue = stored[stored["metric"] == "revenue"].sort_values("month")
            last = revenue.iloc[-1]
            table.append(
                (
                    str(asset.id),
                    asset.certificate_no,
                    asset.category,
                    sample.revenue_shape,
                    f"{len(revenue)}/{samples.months}",
                    f"{last['month']:%Y-%m}",
                    f"{last['value']:,.0f} CNY",
                )
            )
        comparable_service.add_comparables(
            session, comparable_records(samples.comparables), tenant=ctx.tenant, actor=ACTOR
        )
    ctx.state["asset_ids"] = asset_ids
    ctx.state["assets"] = dict(zip(asset_ids, samples.assets, strict=True))

    header = (
        "id",
        "certificate",
        "category",
        "shape",
        "revenue months",
        "last month",
        "last revenue",
    )
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    ctx.out(
        f"Registered {len(asset_ids)} data assets for tenant {ctx.tenant!r} "
        f"(sample seed {samples.seed}), {len(samples.comparables)} comparable transactions:"
    )
    ctx.out("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    ctx.out("  ".join("-" * w for w in widths))
    right = {4, 6}
    for row in table:
        ctx.out(
            "  ".join(
                cell.rjust(w) if i in right else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
