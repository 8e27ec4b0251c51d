"""Deal report of a securitization.

Structure (classes, attachment, coupons, fees, reserve, principal rule, triggers), the
pool, the base-case cash flows per class, tranche analytics of the latest pricing run,
the pool loss distribution with the attachment points marked, and the SEC-SA risk
weights (Basel CRE44; as priced).

Base case: the cash-flow table of ``GET /v1/securitizations/{id}/cashflows``
(`products.cashflows.deal_cashflows`: one deterministic run at the pool's
balance-weighted PD, its own prepayment and recoveries; absbox-style per-class frame). Pool loss distribution: one-factor Gaussian copula over each asset's
term (exact conditional-loss recursion, `credit.portfolio.loss_distribution`) at the
correlation of the latest pricing run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session

from api.reports import charts
from api.reports.common import base_context
from api.services import pricing as pricing_service
from api.services import products
from models.db import row_id

DEFAULT_CORRELATION = 0.15


def cashflow_frame(session: Session, securitization_id: int, tenant: str) -> pd.DataFrame:
    """The base-case per-class cash flows of the caller's securitization, as
    ``GET /v1/securitizations/{id}/cashflows`` gives them."""
    frame, _meta = pricing_service.securitization_cashflows(session, securitization_id, tenant)
    return frame


def pool_loss_chart(deal: Any, correlation: float) -> tuple[str | None, str]:
    from credit.portfolio import loss_distribution
    from products.static_loss import pool_horizon_inputs

    try:
        pds, eads, lgds = pool_horizon_inputs(deal)
        pds = np.clip(pds, 1e-9, 1 - 1e-9)
        lgds = np.clip(lgds, 1e-9, 1.0)
        losses, probs = loss_distribution(pds, eads, lgds, correlation, method="recursion")
    except Exception as exc:  # a pool the recursion cannot take: say so
        return None, f"not available ({exc.__class__.__name__}: {exc})"
    total = float(np.sum(eads))
    attachments = {t.name: (t.attach, t.detach) for t in deal.tranches}
    svg = charts.pool_loss(np.asarray(losses) / total, np.asarray(probs), attachments)
    el = float(np.dot(losses, probs)) / total
    return svg, (
        f"Pool loss over each asset's term as a share of the initial pool balance, "
        f"one-factor Gaussian copula (asset correlation {correlation:g}, exact "
        f"recursion); expected loss {el:.3%}. Dashed lines: where each class attaches."
    )


def _pool_rows(pool: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return list(pool.get("loans") or []), list(pool.get("receivables") or [])


def deal_context(session: Session, securitization_id: int, tenant: str) -> dict[str, Any]:
    """Everything the deal report shows (another tenant's deal is a NotFoundError)."""
    row = products.get_securitization(session, securitization_id, tenant)
    public = products.securitization_public(row, products.tranches_of(session, row_id(row)))
    deal = products.deal_of(row)
    spec = row.spec_dict()
    pool = row.pool_dict()
    loans, receivables = _pool_rows(pool)
    runs, _ = pricing_service.pricing_history(session, row_id(row), tenant, limit=1)
    pricing = runs[0] if runs else None
    correlation = float(pricing["correlation"]) if pricing else DEFAULT_CORRELATION
    flows, meta = pricing_service.securitization_cashflows(session, row_id(row), tenant)
    svg, caption = pool_loss_chart(deal, correlation)
    classes = []
    for t in deal.tranches:
        classes.append(
            {
                "name": t.name,
                "attach": t.attach,
                "detach": t.detach,
                "balance": t.balance,
                "coupon": t.coupon,
                "spread_bp": t.spread_bp,
                "equity": t.equity,
                "guarantee": (
                    f"guarantor PD {t.guarantee.guarantor_pd:.2%}, recovery "
                    f"{t.guarantee.guarantor_recovery:.0%}"
                )
                if t.guarantee
                else None,
            }
        )
    ctx = base_context(f"Deal report {row.name}")
    ctx.update(
        {
            "deal": public.model_dump(mode="json"),
            "spec": spec,
            "classes": classes,
            "fees": {
                "senior_fee_rate": deal.senior_fee_rate,
                "senior_fee_fixed": deal.senior_fee_fixed,
            },
            "reserve": spec.get("reserve"),
            "principal_rule": deal.principal_rule,
            "triggers": spec.get("triggers"),
            "advance_rate": deal.advance_rate,
            "loans": loans,
            "receivables": receivables,
            "pool_meta": {k: v for k, v in pool.items() if k not in ("loans", "receivables")},
            "flows": flows.to_dict("records"),
            "flows_basis": meta.get("basis"),
            "flows_scenario": meta.get("scenario"),
            "flow_totals": flows.groupby("class", sort=False)[
                ["interest_paid", "principal_paid", "writedown"]
            ]
            .sum()
            .reset_index()
            .to_dict("records"),
            "pricing": pricing,
            "loss_svg": svg,
            "loss_caption": caption,
        }
    )
    return ctx
