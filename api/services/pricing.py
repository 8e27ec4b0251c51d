"""Pricing a stored securitization: in the request or as a job, its stored runs and cash flows.

A pricing runs the deal stored at creation (its pool snapshot), so a price can be
reproduced from the row; path-based methods above `SYNC_PRICING_PATHS` are durable jobs
(202). Every run is stored (`models.products.SecuritizationPricing`) and read back as the
same `PriceResult` the request returns (`pricing_view`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from api.clock import today
from api.errors import InvalidInputError
from api.schemas.products import PriceRequest, PriceResult, TrancheFigures
from api.services.products import (
    as_invalid,
    deal_of,
    discount_rate_for,
    finite_or_none,
    get_securitization,
)
from models.db import row_id
from models.products import SecuritizationPricing
from products.solvers import break_even_cdr
from products.tranches import analyze_deal
from valuation.errors import ValuationError
from valuation.market import default_curve

#: Copula paths above which a pricing is a durable job (202) rather than computed in the request.
SYNC_PRICING_PATHS = 200_000


def pricing_is_job(req: PriceRequest) -> bool:
    """Whether ``req`` is priced by a job: a path-based method above `SYNC_PRICING_PATHS`."""
    return req.method in ("mc", "stratified") and req.paths > SYNC_PRICING_PATHS


def queue_pricing(
    session: Session, securitization_id: int, req: PriceRequest, *, tenant: str, actor: str
) -> Any:
    """Queue the pricing as a ``securitization_pricing`` job (committed) and return the job;
    ``job.ref`` is the securitization, and the stored pricing run records the job."""
    from api import jobs

    row = get_securitization(session, securitization_id, tenant)
    job = jobs.enqueue(
        session,
        "securitization_pricing",
        {
            "securitization_id": row.id,
            "request": req.model_dump(mode="json"),
            "tenant": tenant,
            "actor": actor,
        },
        ref=str(row.id),
        tenant=tenant,
    )
    session.commit()
    return job


def pricing_view(row: SecuritizationPricing) -> PriceResult:
    """A stored pricing run as the API shows it (the answer of the request that ran it)."""
    doc = row.result_dict()
    return PriceResult(
        id=row_id(row),
        securitization_id=row.securitization_id,
        method=row.method,
        paths=row.paths,
        seed=row.seed,
        correlation=row.correlation,
        as_of=row.as_of,
        pool_expected_loss=doc["pool_expected_loss"],
        expected_loss_basis=doc["expected_loss_basis"],
        discount_rate=doc.get("discount_rate"),
        k_sa=doc.get("k_sa"),
        w=doc.get("w"),
        tranches=[TrancheFigures.model_validate(t) for t in doc["tranches"]],
    )


def stored_pricing(session: Session, *, job_id: int) -> PriceResult | None:
    """The pricing run a job stored, as the answer of the request (None when absent)."""
    row = session.exec(
        select(SecuritizationPricing).where(SecuritizationPricing.job_id == job_id)
    ).first()
    return None if row is None else pricing_view(row)


def price_securitization(
    session: Session,
    securitization_id: int,
    req: PriceRequest,
    *,
    tenant: str,
    actor: str,
    job_id: int | None = None,
) -> PriceResult:
    """Price every tranche (expected loss, probability of loss, price, fair spread, WAL,
    duration, yield, SEC-SA risk weight); the run is stored with its seed (and ``job_id``
    for a job's pricing: unique, so a retried job stores its run once)."""
    row = get_securitization(session, securitization_id, tenant)
    session.commit()  # inputs read: no transaction is held while the paths are simulated
    try:
        deal = deal_of(row)
        as_of = req.as_of or deal.pool.cut_off_date or today()
        discount_rate = discount_rate_for(req.discount_rate, deal.currency)
        market = default_curve(as_of, deal.currency, discount_rate)
        res = analyze_deal(
            deal,
            market=market,
            method=req.method,
            correlation=req.correlation,
            n_paths=req.paths,
            seed=req.seed,
            k_sa=req.k_sa,
            w=req.w,
            discount_margin_bp=req.discount_margin_bp,
            market_price=req.market_price,
        )
        breaks = (
            [
                break_even_cdr(deal, k, index_rate=discount_rate).cdr
                for k in range(len(deal.tranches))
            ]
            if req.break_even
            else [None] * len(deal.tranches)
        )
    except ValuationError as exc:
        raise as_invalid(exc) from None
    figures = [
        TrancheFigures(
            name=t.name,
            attach=t.attach,
            detach=t.detach,
            balance=t.balance,
            expected_loss=t.expected_loss,
            prob_loss=t.prob_loss,
            price=t.price,
            fair_spread_bp=finite_or_none(t.fair_spread_bp),
            wal_years=t.wal_years,
            duration=finite_or_none(t.duration),
            yield_rate=finite_or_none(t.yield_rate),
            risk_weight=t.risk_weight,
            expected_loss_std_error=t.expected_loss_std_error,
            break_even_cdr=b,
            discount_margin_bp=t.discount_margin_bp,
            market_price=t.market_price,
            principal_expected_loss=t.principal_expected_loss,
            modified_duration=finite_or_none(t.modified_duration),
            duration_basis=t.duration_basis,
        )
        for t, b in zip(res.tranches, breaks, strict=True)
    ]
    pricing = SecuritizationPricing(
        securitization_id=row_id(row),
        tenant=tenant,
        method=req.method,
        job_id=job_id,
        paths=res.n_scenarios if req.method in ("mc", "stratified") else 0,
        seed=req.seed,
        correlation=req.correlation,
        as_of=as_of,
        created_by=actor,
        result=json.dumps(
            {
                "pool_expected_loss": res.pool_expected_loss,
                "expected_loss_basis": res.expected_loss_basis,
                "discount_rate": discount_rate,
                "k_sa": req.k_sa,
                "w": req.w,
                "tranches": [f.model_dump(by_alias=True) for f in figures],
            }
        ),
    )
    session.add(pricing)
    session.commit()
    return pricing_view(pricing)


def securitization_cashflows(
    session: Session,
    securitization_id: int,
    tenant: str,
    *,
    scenario: str = "base",
    cdr: float | None = None,
    cpr: float | None = None,
    severity: float | None = None,
    discount_rate: float | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The deal's per-class, per-period cash flows (`products.cashflows.deal_cashflows`)
    under the base case or the given CDR / CPR / severity; floating classes index on the
    flat curve at ``discount_rate`` (default: the currency's risk-free rate). Returns the
    DataFrame and a description of the run."""
    from products.cashflows import deal_cashflows

    row = get_securitization(session, securitization_id, tenant)
    if scenario != "base":
        raise InvalidInputError(
            f"The `scenario` must be 'base' (give `cdr`, `cpr` or `severity` "
            f"to change it). Got {scenario!r}.",
            field="scenario",
        )
    try:
        deal = deal_of(row)
        start = deal.pool.cut_off_date or row.created_at.date()
        discount_rate = discount_rate_for(discount_rate, deal.currency)
        frame, sc = deal_cashflows(
            deal,
            cdr=cdr,
            cpr=cpr,
            severity=severity,
            start=start,
            market=default_curve(start, deal.currency, discount_rate),
        )
    except ValuationError as exc:
        raise as_invalid(exc) from None
    meta = {
        "securitization_id": row.id,
        "currency": row.currency,
        "scenario": {"name": sc.name, "cdr": sc.cdr, "cpr": sc.cpr, "severity": sc.severity},
        "discount_rate": discount_rate,
        "basis": "one deterministic scenario: constant annual default rate (cdr), prepayment "
        "rate (cpr), loss given default (severity; null = each asset's own); base = "
        "the pool's balance-weighted PD and its own CPR and recoveries",
    }
    return frame, meta


def cashflows_json(frame: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The cash-flow table as JSON rows (dates ISO, amounts in major units)."""
    records = []
    for rec in frame.to_dict(orient="records"):
        d = rec.get("date")
        rec["date"] = d.isoformat() if d is not None else None
        records.append(
            {
                k: (
                    float(v)
                    if isinstance(v, np.floating)
                    else int(v)
                    if isinstance(v, np.integer)
                    else v
                )
                for k, v in rec.items()
            }
        )
    return {**meta, "columns": list(frame.columns), "rows": records}


def tranche_table(result: PriceResult) -> list[str]:
    """The priced tranches as text lines (the demo prints these)."""
    head = (
        f"{'class':<6}{'attach':>8}{'detach':>8}{'EL':>10}{'P(loss)':>9}{'DM bp':>8}"
        f"{'price':>9}{'yield':>8}{'spread bp':>10}{'WAL':>7}{'dur':>7}{'RW':>8}{'BE CDR':>8}"
    )
    lines = [head]
    for t in result.tranches:
        spread = (
            f"{t.fair_spread_bp + 0.0:10.1f}" if t.fair_spread_bp is not None else f"{'n/a':>10}"
        )
        dur = f"{t.duration:6.2f}" if t.duration is not None else f"{'n/a':>6}"
        dur += "e" if t.duration_basis == "effective" else " "
        yld = f"{t.yield_rate:8.2%}" if t.yield_rate is not None else f"{'n/a':>8}"
        lines.append(
            f"{t.name:<6}{t.attach:8.2%}{t.detach:8.2%}{t.expected_loss:10.4%}"
            f"{t.prob_loss:9.2%}{t.discount_margin_bp:8.0f}{t.price:9.3f}{yld}{spread}"
            f"{t.wal_years:7.2f}{dur}{t.risk_weight:8.0%}"
            + (f"{t.break_even_cdr:8.1%}" if t.break_even_cdr is not None else f"{'':>8}")
        )
    lines.append(
        f"EL: {result.expected_loss_basis}; price at the curve plus DM; yield from the "
        "price on the promised cash; dur 'e' = effective (1 bp curve bump)"
    )
    return lines


def pricing_history(
    session: Session,
    securitization_id: int,
    tenant: str,
    *,
    limit: int = 50,
    after_id: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Stored pricing runs of a securitization, newest first, a page of ``limit`` after the
    run ``after_id`` (the last of the previous page); and the id to continue after, if more
    follow. An ``after_id`` that is not a run of this securitization is a 422 on ``cursor``."""
    get_securitization(session, securitization_id, tenant)
    p = SecuritizationPricing
    query = select(p).where(p.securitization_id == securitization_id)
    if after_id is not None:
        last = session.get(p, after_id)
        if last is None or last.securitization_id != securitization_id:
            raise InvalidInputError("The `cursor` does not belong to this list.", field="cursor")
        query = query.where(
            (col(p.created_at) < last.created_at)
            | ((col(p.created_at) == last.created_at) & (col(p.id) < last.id))
        )
    rows = list(
        session.exec(
            query.order_by(col(p.created_at).desc(), col(p.id).desc()).limit(limit + 1)
        ).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [pricing_view(r).model_dump(mode="json", by_alias=True) for r in rows]
    return items, (rows[-1].id if more and rows else None)
