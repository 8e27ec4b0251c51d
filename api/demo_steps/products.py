"""Demo step: pool the demo loans into a three-tranche deal, price it, print the tranche table.

Uses ``api.services.products``, the code behind ``POST /v1/securitizations`` and
``POST /v1/securitizations/{id}/price``. The pool is the credit step's loans
(``ctx.state["loan_ids"]``); when that step left none, the sample data assets' revenue
becomes a pool of data-licence receivables instead, so the step always runs. Leaves
``ctx.state["securitization_ids"]``.

Structure (after China's data-asset ABS: a senior class with a guarantor wrap and a coupon
in the 1.8-2.5 % range): A 25-100 % at 2.0 % wrapped by a guarantor with a 0.1 % PD, B
10-25 % at 2.6 %, C 0-10 % the equity (no coupon, it takes the residual cash); 0.5 %
senior fees, a 3-month interest reserve, sequential pay with a 10 % cumulative default
trigger.
"""

from __future__ import annotations

from typing import Any

from api.demo_steps import DemoContext
from api.schemas.products import PriceRequest, SecuritizationCreate
from api.services import pricing
from api.services import products as service
from models.db import row_id

ACTOR = "demo"
PATHS = 5_000
CORRELATION = 0.2


def _receivables(ctx: DemoContext) -> list[dict[str, Any]]:
    """The sample assets' last twelve months of revenue, repeated over 24 months, as
    projected licence collections (one obligor per asset)."""
    out = []
    for asset_id, sample in ctx.state.get("assets", {}).items():
        rev = sample.signals[sample.signals["metric"] == "revenue"].sort_values("month")["value"]
        monthly = float(rev.tail(12).mean()) if len(rev) else 0.0
        if monthly > 0:
            out.append(
                {
                    "receivable_id": f"asset-{asset_id}",
                    "cashflows": [monthly] * 24,
                    "pd": 0.03,
                    "recovery_rate": 0.1,
                }
            )
    return out


def run(ctx: DemoContext) -> None:
    """Create and price the demo securitization and print its tranche table."""
    loan_ids = [str(i) for i in ctx.state.get("loan_ids", [])]
    if loan_ids:
        pool: dict[str, Any] = {
            "loan_ids": loan_ids,
            "recovery_lag_months": 6,
            "cut_off_date": ctx.as_of.isoformat(),
        }
        source = f"{len(loan_ids)} demo loans"
    else:
        receivables = _receivables(ctx)
        if not receivables:
            ctx.out("Products: no loans and no sample assets to pool; skipped.")
            ctx.state["securitization_ids"] = []
            return
        pool = {"receivables": receivables, "discount_rate": 0.04, "recovery_lag_months": 3}
        source = f"{len(receivables)} data-licence receivables (no demo loans were left)"
    body = SecuritizationCreate.model_validate(
        {
            "name": "datafin demo data-asset ABS",
            "currency": "CNY",
            "pool": pool,
            "tranches": [
                {
                    "name": "A",
                    "attach": 0.25,
                    "detach": 1.00,
                    "coupon": 0.020,
                    "guarantee": {"guarantor_pd": 0.001, "guarantor_recovery": 0.4},
                },
                {"name": "B", "attach": 0.10, "detach": 0.25, "coupon": 0.026},
                {"name": "C", "attach": 0.00, "detach": 0.10, "coupon": 0.0, "equity": True},
            ],
            "senior_fee_rate": 0.005,
            "reserve": {"interest_months": 3},
            "principal_rule": "sequential",
            "triggers": {"cumulative_default": 0.10},
        }
    )
    with ctx.session_factory() as session:
        row, _ = service.create_securitization(session, body, tenant=ctx.tenant, actor=ACTOR)
        result = pricing.price_securitization(
            session,
            row_id(row),
            PriceRequest(paths=PATHS, seed=ctx.seed, correlation=CORRELATION, as_of=ctx.as_of),
            tenant=ctx.tenant,
            actor=ACTOR,
        )
        flows, meta = pricing.securitization_cashflows(session, row_id(row), ctx.tenant)
    ctx.state["securitization_ids"] = [row.id]
    ctx.out(
        f"Securitization {row.id} of {source}: pool {row.pool_balance:,.0f} {row.currency}, "
        f"notes {row.note_balance:,.0f}; {PATHS} copula paths (rho {CORRELATION}, "
        f"seed {ctx.seed}), pool expected loss {result.pool_expected_loss:.3%}:"
    )
    for line in pricing.tranche_table(result):
        ctx.out("  " + line)
    sc = meta["scenario"]
    ctx.out(
        f"  base-case cash flows (CDR {sc['cdr']:.2%}, CPR {sc['cpr']:.2%}, own recoveries; "
        f"GET /v1/securitizations/{row.id}/cashflows):"
    )
    for name, rows in flows.groupby("class", sort=False):
        ctx.out(
            f"    {name}: interest {rows['interest_paid'].sum():,.0f} of "
            f"{rows['interest_due'].sum():,.0f} due, principal {rows['principal_paid'].sum():,.0f}, "
            f"written down {rows['writedown'].sum():,.0f}, PDL left "
            f"{rows['pdl_balance'].iloc[-1]:,.0f}"
        )
