"""Products service: create and price securitizations, price data-revenue notes.

The routers and the demo call these functions; they glue the database to the
`products` library. Rules:

* a securitization belongs to the tenant that created it; another tenant gets 404;
* ``pool.loan_ids`` name loans of the caller's tenant (`models.credit.Loan`); an id that
  is unknown or another tenant's is a 422 naming ``pool.loan_ids.<i>``;
* the pool is resolved once, at creation, into a snapshot stored with the deal, so a
  price can be reproduced from the row even if the loans change;
* errors from the library (`valuation.errors.ValuationError`) become 422 problems whose
  field is dotted like the request validation errors (``tranches.1.attach``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from api.clock import today
from api.errors import InvalidInputError, NotFoundError
from api.schemas.products import (
    DataNotePriceRequest,
    DataNotePriceResult,
    PriceRequest,
    PriceResult,
    SecuritizationCreate,
    SecuritizationPublic,
    TrancheFigures,
    TrancheOut,
)
from api.services.valuation import load_inputs, run_valuation
from models.audit import record_audit
from models.credit import Loan, live_loans
from models.db import row_id
from models.products import Securitization, SecuritizationPricing, SecuritizationTranche
from products.notes import DataRevenueNote, price_data_note
from products.pool import PoolLoan
from products.solvers import break_even_cdr
from products.spec import deal_from_dict
from products.structure import Deal
from products.tranches import analyze_deal
from valuation.errors import ValuationError
from valuation.market import currency_defaults, default_curve

_INDEX = re.compile(r"\[(\d+)\]")


def _discount_rate(given: float | None, currency: str) -> float:
    """The flat rate a pricing discounts at: the one given, else the currency's risk-free
    rate (`valuation.market.DEFAULT_MARKET_DATA`; a 422 naming ``discount_rate`` when the
    currency has none)."""
    if given is not None:
        return float(given)
    return currency_defaults(currency, field="discount_rate").risk_free_rate


def dotted(field: str | None) -> str | None:
    """``tranches[1].attach`` -> ``tranches.1.attach`` (the API's field style)."""
    return None if field is None else _INDEX.sub(r".\1", field)


def _as_invalid(exc: ValuationError) -> InvalidInputError:
    return InvalidInputError(str(exc), field=dotted(exc.field) or "body")


# ---------------------------------------------------------------------------------- loans


def _loan_to_pool_loan(loan: Loan) -> dict[str, Any]:
    """A booked loan as the library's pool-loan terms (major units, decimals).

    The pool rebuilds the loan's own schedule (`credit.loans.schedules`: its principal,
    start date, all-in rate, tenor, amortisation, frequency, day count and calendar) and
    takes it at its balance on the cut-off date, with its one-year PD and ``1 - LGD`` as
    recovery.
    """
    return {
        "loan_id": str(row_id(loan)),
        "balance": float(loan.principal),
        "annual_rate": float(loan.annual_rate),
        "tenor_months": int(loan.tenor_months),
        "amortization": loan.amortization,
        "pd": float(loan.pd),
        "recovery_rate": min(max(1.0 - float(loan.lgd), 0.0), 1.0),
        "start_date": loan.start_date,
        "frequency_months": int(loan.frequency_months),
        "day_count": loan.day_count,
        "calendar": loan.calendar,
    }


def load_loan_book(
    session: Session, tenant: str, ids: list[str], *, currency: str | None = None
) -> dict[str, PoolLoan]:
    """The caller's live loans among ``ids`` (in ``currency`` when given) as library loans,
    by id; others are absent (filtered in SQL, `models.credit.live_loans`)."""
    wanted = [int(i) for i in ids if str(i).isdigit() and int(i) <= 2**63 - 1]
    if not wanted:
        return {}
    book: dict[str, PoolLoan] = {}
    for row in live_loans(session, tenant, ids=wanted, currency=currency):
        terms = _loan_to_pool_loan(row)
        book[terms["loan_id"]] = PoolLoan(**terms)
    return book


# -------------------------------------------------------------------------- securitizations


def _resolve_spec(
    session: Session, body: SecuritizationCreate, tenant: str
) -> tuple[dict[str, Any], Deal]:
    """The deal spec with its pool resolved to inline loans and receivables, and the Deal."""
    spec = body.model_dump(exclude_none=True, mode="json")
    pool = dict(spec["pool"])
    loans = list(pool.pop("loans", []))
    if "loan_ids" in pool:
        ids = [str(i) for i in pool.pop("loan_ids")]
        book = load_loan_book(session, tenant, ids, currency=body.currency)
        for i, lid in enumerate(ids):
            if lid not in book:
                raise InvalidInputError(
                    f"The `pool.loan_ids[{i}]` must name a live {body.currency} loan of your "
                    f"tenant. Got {lid!r}.",
                    field=f"pool.loan_ids.{i}",
                )
        seen: set[str] = set()
        for i, lid in enumerate(ids):
            if lid in seen:
                raise InvalidInputError(
                    f"The `pool.loan_ids[{i}]` repeats loan {lid!r}.", field=f"pool.loan_ids.{i}"
                )
            seen.add(lid)
            x = book[lid]
            loans.append(
                {
                    "loan_id": x.loan_id,
                    "balance": x.balance,
                    "annual_rate": x.annual_rate,
                    "tenor_months": x.tenor_months,
                    "amortization": x.amortization,
                    "pd": x.pd,
                    "recovery_rate": x.recovery_rate,
                    "start_date": x.start_date.isoformat() if x.start_date else None,
                    "frequency_months": x.frequency_months,
                    "day_count": x.day_count,
                    "calendar": x.calendar,
                }
            )
        # booked loans are pooled at their balance on the cut-off date (today by default);
        # the date is kept in the snapshot, so a price can be reproduced later
        pool.setdefault("cut_off_date", today().isoformat())
    pool["loans"] = loans
    spec["pool"] = pool
    try:
        deal = deal_from_dict(spec)
    except ValuationError as exc:
        raise _as_invalid(exc) from None
    return spec, deal


def create_securitization(
    session: Session, body: SecuritizationCreate, *, tenant: str, actor: str
) -> tuple[Securitization, list[SecuritizationTranche]]:
    """Validate, resolve the pool, store the deal and its tranches (one transaction, audited)."""
    spec, deal = _resolve_spec(session, body, tenant)
    row = Securitization(
        tenant=tenant,
        name=body.name,
        currency=deal.currency,
        pool_balance=deal.pool_balance,
        note_balance=deal.note_balance,
        spec=json.dumps(body.model_dump(exclude_none=True, mode="json"), sort_keys=True),
        pool_snapshot=json.dumps(spec["pool"], sort_keys=True),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    tranches = [
        SecuritizationTranche(
            securitization_id=row_id(row),
            seniority=k,
            name=t.name,
            attach=t.attach,
            detach=t.detach,
            balance=t.balance,
            coupon=t.coupon,
            spread_bp=t.spread_bp,
        )
        for k, t in enumerate(deal.tranches)
    ]
    session.add_all(tranches)
    record_audit(
        session,
        actor=actor,
        action="securitization.create",
        entity="securitization",
        entity_id=str(row.id),
        tenant=tenant,
        payload={
            "name": row.name,
            "pool_balance": row.pool_balance,
            "tranches": [t.name for t in deal.tranches],
        },
    )
    session.commit()
    return row, tranches


def get_securitization(session: Session, securitization_id: int, tenant: str) -> Securitization:
    """The tenant's securitization; 404 when absent or another tenant's."""
    row = session.get(Securitization, securitization_id)
    if row is None or row.tenant != tenant:
        raise NotFoundError(f"Securitization {securitization_id} not found.")
    return row


def list_securitizations(
    session: Session, tenant: str, *, limit: int, after_id: int | None = None
) -> tuple[list[Securitization], bool]:
    """The tenant's securitizations by id, a page of ``limit`` after ``after_id``; and
    whether more follow."""
    query = select(Securitization).where(Securitization.tenant == tenant)
    if after_id is not None:
        query = query.where(col(Securitization.id) > after_id)
    rows = list(session.exec(query.order_by(col(Securitization.id)).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def tranches_of(session: Session, securitization_id: int) -> list[SecuritizationTranche]:
    return list(
        session.exec(
            select(SecuritizationTranche)
            .where(SecuritizationTranche.securitization_id == securitization_id)
            .order_by(col(SecuritizationTranche.seniority))
        ).all()
    )


def securitization_public(
    row: Securitization, tranches: list[SecuritizationTranche]
) -> SecuritizationPublic:
    pool = row.pool_dict()
    return SecuritizationPublic(
        id=row.id,
        name=row.name,
        currency=row.currency,
        pool_balance=row.pool_balance,
        note_balance=row.note_balance,
        assets=len(pool.get("loans", [])) + len(pool.get("receivables", [])),
        tranches=[
            TrancheOut(
                name=t.name,
                seniority=t.seniority,
                attach=t.attach,
                detach=t.detach,
                balance=t.balance,
                coupon=t.coupon,
                spread_bp=t.spread_bp,
            )
            for t in tranches
        ],
        created_at=row.created_at,
    )


def deal_of(row: Securitization) -> Deal:
    """Rebuild the library deal from the stored spec and pool snapshot."""
    spec = row.spec_dict()
    spec["pool"] = row.pool_dict()
    return deal_from_dict(spec)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


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
        discount_rate = _discount_rate(req.discount_rate, deal.currency)
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
        raise _as_invalid(exc) from None
    figures = [
        TrancheFigures(
            name=t.name,
            attach=t.attach,
            detach=t.detach,
            balance=t.balance,
            expected_loss=t.expected_loss,
            prob_loss=t.prob_loss,
            price=t.price,
            fair_spread_bp=_finite(t.fair_spread_bp),
            wal_years=t.wal_years,
            duration=_finite(t.duration),
            yield_rate=_finite(t.yield_rate),
            risk_weight=t.risk_weight,
            expected_loss_std_error=t.expected_loss_std_error,
            break_even_cdr=b,
            discount_margin_bp=t.discount_margin_bp,
            market_price=t.market_price,
            principal_expected_loss=t.principal_expected_loss,
            modified_duration=_finite(t.modified_duration),
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
        discount_rate = _discount_rate(discount_rate, deal.currency)
        frame, sc = deal_cashflows(
            deal,
            cdr=cdr,
            cpr=cpr,
            severity=severity,
            start=start,
            market=default_curve(start, deal.currency, discount_rate),
        )
    except ValuationError as exc:
        raise _as_invalid(exc) from None
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


# --------------------------------------------------------------------------- data notes


def revenue_paths(
    session: Session,
    asset_id: int,
    *,
    as_of: date,
    currency: str,
    discount_rate: float | None,
    paths: int,
    seed: int,
) -> dict[str, Any]:
    """Simulated monthly paths of a registered asset from the valuation engine's Monte Carlo
    on its stored signals, costs and comparables: ``gross`` revenue and the ``income`` cash
    flow (the income approach's attributable cash), ``(paths, months)``; the income
    approach's risk-adjusted ``discount_factors``; the asset's ``income_value`` on these paths
    (mean of the path values) and the discounting ``basis``."""
    inputs = load_inputs(session, asset_id)  # NotFoundError -> 404
    session.commit()  # inputs read: no transaction is held while the paths are simulated
    valuation, _market = run_valuation(
        inputs,
        as_of=as_of,
        currency=currency,
        paths=paths,
        seed=seed,
        weights=None,
        assumptions=None,
        risk_free_rate=_discount_rate(discount_rate, currency),
    )
    sim = valuation.simulation
    assert sim is not None
    income = valuation.methods["income"].assumptions if "income" in valuation.methods else {}
    return {
        "gross": np.asarray(sim.gross_revenue(), dtype=np.float64),
        "income": np.asarray(sim.revenue, dtype=np.float64),
        "discount_factors": np.asarray(sim.discount_factors, dtype=np.float64),
        "income_value": float(sim.values.mean()),
        "basis": str(income.get("discounting", "the income approach's discount factors")),
    }


def price_data_note_for(session: Session, req: DataNotePriceRequest) -> DataNotePriceResult:
    """Price a note on a share of a registered data product's gross revenue, paid out of its
    income cash flow, discounted as its income approach discounts."""
    as_of = req.as_of or today()
    try:
        note = DataRevenueNote(
            share=req.share,
            term_months=req.term_months,
            cap=req.cap,
            floor=req.floor,
            issuer_hazard=req.issuer_hazard,
            recovery_rate=req.recovery_rate,
            default_threshold=req.default_threshold,
        )
        sim = revenue_paths(
            session,
            req.asset_id,
            as_of=as_of,
            currency=req.currency,
            discount_rate=req.discount_rate,
            paths=req.paths,
            seed=req.seed,
        )
        months = sim["gross"].shape[1]
        if months < note.term_months:
            raise InvalidInputError(
                f"The `term_months` must be at most the {months} months the valuation "
                f"simulates. Got {note.term_months}.",
                field="term_months",
            )
        res = price_data_note(
            note,
            sim["gross"],
            market=default_curve(
                as_of, req.currency, _discount_rate(req.discount_rate, req.currency)
            ),
            seed=req.seed,
            available=sim["income"],
            discount_factors=sim["discount_factors"],
        )
    except ValuationError as exc:
        raise _as_invalid(exc) from None
    return DataNotePriceResult(
        asset_id=req.asset_id,
        currency=req.currency,
        price=res.price,
        std_error=res.std_error,
        distribution=res.distribution,
        yield_rate=_finite(res.yield_rate),
        default_probability=res.default_probability,
        paths=res.n_paths,
        seed=res.seed,
        as_of=as_of,
        income_value=sim["income_value"],
        basis=(
            f"share of gross revenue (cap/floor on it), paid out of the asset's income cash "
            f"flow; discounted as the income approach: {sim['basis']}; issuer default when "
            f"revenue falls below {req.default_threshold:.0%} of the first month's mean"
            + (f" or at hazard {req.issuer_hazard:g}/yr" if req.issuer_hazard > 0 else "")
        ),
    )


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
