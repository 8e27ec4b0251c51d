"""Booked loans: reading them (views, schedules, pledges, events, risk), monitoring them
(revaluation of one loan or of a tenant's book, margin calls) and the portfolio risk view of
the tenant's live loans. Quotes and originations are in `api.services.credit`.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from api.clock import today
from api.errors import InvalidInputError, NotFoundError
from api.schemas.credit import RevalueIn
from api.services.collateral import assess_assets
from api.services.credit import MAX_RECURSION_CONTRIBUTIONS, PORTFOLIO_MC_PATHS
from credit.contributions import portfolio_risk as book_risk
from credit.loans import balance_at, loan_terms, terms_schedule
from credit.monitoring import MonitoringThresholds, revalue
from models.audit import record_audit
from models.credit import (
    Loan,
    LoanEvent,
    Pledge,
    pledged_amounts,
)
from models.db import row_id
from valuation.conventions import (
    MINOR_UNITS,
    round_to_minor_unit,
)

# ----------------------------------------------------------------------------- reading


def get_loan(session: Session, loan_id: int, tenant: str) -> Loan:
    """The caller's loan; another tenant's loan is a 404 like a missing one."""
    loan = session.get(Loan, loan_id)
    if loan is None or loan.tenant != tenant:
        raise NotFoundError(f"Loan {loan_id} does not exist.")
    return loan


def list_loans(
    session: Session, tenant: str, *, limit: int, after: int | None
) -> tuple[list[Loan], bool]:
    q = select(Loan).where(Loan.tenant == tenant)
    if after is not None:
        q = q.where(col(Loan.id) > after)
    rows = list(session.exec(q.order_by(col(Loan.id)).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def loan_schedule(loan: Loan) -> pd.DataFrame:
    return terms_schedule(
        loan_terms(
            float(loan.principal),
            float(loan.annual_rate),
            loan.start_date,
            loan.tenor_months,
            loan.amortization,
            loan.frequency_months,
            loan.day_count,
            loan.calendar,
        )
    )


def outstanding_at(loan: Loan, as_of: date) -> float:
    """The loan's outstanding balance at ``as_of`` (`credit.loans.balance_at`)."""
    return balance_at(loan_schedule(loan), as_of, float(loan.principal))


def loan_pledges(session: Session, loan_id: int) -> list[Pledge]:
    return list(
        session.exec(select(Pledge).where(Pledge.loan_id == loan_id).order_by(col(Pledge.id))).all()
    )


def list_events(
    session: Session, loan_id: int, *, limit: int, after: int | None
) -> tuple[list[LoanEvent], bool]:
    q = select(LoanEvent).where(LoanEvent.loan_id == loan_id)
    if after is not None:
        q = q.where(col(LoanEvent.id) > after)
    rows = list(session.exec(q.order_by(col(LoanEvent.id)).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def loan_events(session: Session, loan_id: int) -> list[LoanEvent]:
    return list(
        session.exec(
            select(LoanEvent).where(LoanEvent.loan_id == loan_id).order_by(col(LoanEvent.id))
        ).all()
    )


def event_view(e: LoanEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "as_of": e.as_of,
        "ltv": e.ltv,
        "threshold": e.threshold,
        "collateral_value": float(e.collateral_value),
        "outstanding": float(e.outstanding),
        "cure_amount": float(e.cure_amount),
    }


def loan_view(session: Session, loan: Loan) -> dict[str, Any]:
    data = loan.model_dump(exclude={"idempotency_key", "request_hash", "tenant"})
    for k, v in list(data.items()):
        if isinstance(v, Decimal):
            data[k] = float(v)
    data["rate"] = {
        "funding": loan.rate_funding,
        "expected_loss": loan.rate_expected_loss,
        "capital": loan.rate_capital,
        "costs": loan.rate_costs,
        "total": loan.annual_rate,
    }
    data["pledges"] = [
        {
            "asset_id": p.asset_id,
            "amount": float(p.amount),
            "asset_value": float(p.asset_value),
            "lending_value": float(p.lending_value),
            "haircut": p.haircut,
            "status": p.status,
            "valuation_id": p.valuation_id,
        }
        for p in loan_pledges(session, row_id(loan))
    ]
    return data


def loan_risk(session: Session, loan: Loan) -> dict[str, Any]:
    events = loan_events(session, int(loan.id))  # type: ignore[arg-type]
    return {
        "loan_id": loan.id,
        "currency": loan.currency,
        "pd": loan.pd,
        "pd_source": loan.pd_source,
        "lgd": loan.lgd,
        "lgd_regulatory": loan.lgd_regulatory,
        "ead": float(loan.ead),
        "expected_loss": float(loan.expected_loss),
        "capital": float(loan.capital),
        "capital_k": loan.capital_k,
        "rwa": float(loan.rwa),
        "asset_correlation": loan.asset_correlation,
        "ltv": loan.ltv,
        "haircut": loan.haircut,
        "lending_value": float(loan.lending_value),
        "collateral_value": float(loan.collateral_value),
        "rate": {
            "funding": loan.rate_funding,
            "expected_loss": loan.rate_expected_loss,
            "capital": loan.rate_capital,
            "costs": loan.rate_costs,
            "total": loan.annual_rate,
        },
        "events": [event_view(e) for e in events],
    }


# ----------------------------------------------------------------------------- monitoring


def _loan_collateral_value(session: Session, loan: Loan, body: RevalueIn, as_of: date) -> float:
    """Revalued collateral: each pledged asset's latest stored value (on or before ``as_of``)
    times this loan's share of its live pledges."""
    if body.collateral_value is not None:
        return float(body.collateral_value)
    pledges = [p for p in loan_pledges(session, int(loan.id)) if p.status == "live"]  # type: ignore[arg-type]
    ids = [p.asset_id for p in pledges]
    totals = pledged_amounts(session, ids)
    assessed = assess_assets(
        session, ids, as_of=as_of, currency=loan.currency, for_pledge=False, tenant=loan.tenant
    )
    value = 0.0
    for p, c in zip(pledges, assessed, strict=True):
        total = float(totals.get(p.asset_id, Decimal(0))) or float(p.amount)
        value += c.value * float(p.amount) / total
    return value


def revalue_loan(
    session: Session, loan: Loan, body: RevalueIn, *, actor: str, commit: bool = True
) -> dict[str, Any]:
    """Revalue the collateral, store the new LTV and the events it raises; return them.
    With ``commit=False`` the changes are flushed into the caller's transaction (a bulk
    revaluation commits all its loans at once)."""
    t = body.thresholds
    try:
        thresholds = MonitoringThresholds(
            warning=t.warning, margin_call=t.margin_call, liquidation=t.liquidation
        )
    except Exception as exc:  # ConventionError names the field
        raise InvalidInputError(str(exc), field="thresholds") from None
    as_of = body.as_of or today()
    value = _loan_collateral_value(session, loan, body, as_of)
    outstanding = outstanding_at(loan, as_of)
    previous = loan.ltv
    result = revalue(outstanding, value, thresholds, previous_ltv=previous)
    ccy = loan.currency
    ltv_stored = result.ltv if math.isfinite(result.ltv) else 1e9
    try:
        stored = [
            LoanEvent(
                loan_id=row_id(loan),
                kind="revaluation",
                as_of=as_of,
                ltv=ltv_stored,
                threshold=None,
                collateral_value=round_to_minor_unit(value, ccy),
                outstanding=round_to_minor_unit(outstanding, ccy),
                cure_amount=Decimal(0),
            )
        ]
        for ev in result.events:
            stored.append(
                LoanEvent(
                    loan_id=row_id(loan),
                    kind=ev.kind,
                    as_of=as_of,
                    ltv=ltv_stored,
                    threshold=ev.threshold,
                    collateral_value=round_to_minor_unit(value, ccy),
                    outstanding=round_to_minor_unit(outstanding, ccy),
                    cure_amount=round_to_minor_unit(ev.cure_amount, ccy),
                )
            )
        for s in stored:
            session.add(s)
        loan.ltv = ltv_stored
        loan.collateral_value = round_to_minor_unit(value, ccy)
        session.add(loan)
        session.flush()
        record_audit(
            session,
            actor=actor,
            action="loan.revalue",
            entity="loan",
            entity_id=int(loan.id),  # type: ignore[arg-type]
            payload={"ltv": ltv_stored, "events": [e.kind for e in result.events]},
            tenant=loan.tenant,
        )
        if commit:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return {
        "loan_id": loan.id,
        "as_of": as_of,
        "ltv": ltv_stored,
        "previous_ltv": previous,
        "collateral_value": value,
        "outstanding": outstanding,
        "events": [event_view(e) for e in stored[1:]],
    }


def queue_revaluation(session: Session, body: RevalueIn, *, tenant: str, actor: str) -> Any:
    """Queue a ``loan_revaluation`` job (committed) that revalues every live loan of
    ``tenant`` as `revalue_book` does."""
    from api import jobs

    if body.collateral_value is not None:
        raise InvalidInputError(
            "A bulk revaluation values each loan's own assets: `collateral_value` "
            "is for one loan (POST /v1/loans/{id}/revalue).",
            field="collateral_value",
        )
    as_of = body.as_of or today()
    job = jobs.enqueue(
        session,
        "loan_revaluation",
        {
            "tenant": tenant,
            "actor": actor,
            "request": {**body.model_dump(mode="json"), "as_of": as_of.isoformat()},
        },
        tenant=tenant,
    )
    session.commit()
    return job


def revalue_book(session: Session, tenant: str, body: RevalueIn, *, actor: str) -> dict[str, Any]:
    """Revalue every live loan of ``tenant`` (`revalue_loan` on each) in one transaction:
    every loan's new LTV and events are stored together, or none is. Returns the count of
    loans, the events by kind and each loan's figures."""
    loans = list(
        session.exec(
            select(Loan).where(Loan.tenant == tenant, Loan.status == "live").order_by(col(Loan.id))
        ).all()
    )
    out = []
    try:
        for loan in loans:
            out.append(revalue_loan(session, loan, body, actor=actor, commit=False))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    events: dict[str, int] = {}
    for item in out:
        for ev in item["events"]:
            events[ev["kind"]] = events.get(ev["kind"], 0) + 1
    return {
        "as_of": (body.as_of or today()).isoformat(),
        "loans": len(out),
        "events": events,
        "revalued": out,
    }


# ----------------------------------------------------------------------------- portfolio


def portfolio_risk_view(
    session: Session,
    tenant: str,
    *,
    confidence: float,
    method: str,
    paths: int = PORTFOLIO_MC_PATHS,
    seed: int = 0,
) -> dict[str, Any]:
    """One-factor copula loss of the tenant's live loans (EAD = principal, LGD economic)."""
    loans = list(
        session.exec(
            select(Loan).where(Loan.tenant == tenant, Loan.status == "live").order_by(col(Loan.id))
        ).all()
    )
    if not loans:
        return {
            "method": method,
            "confidence": confidence,
            "currency": None,
            "n_loans": 0,
            "exposure": 0.0,
            "expected_loss": 0.0,
            "var": 0.0,
            "es": 0.0,
            "economic_capital": 0.0,
            "contributions": [],
        }
    currencies = {ln.currency for ln in loans}
    if len(currencies) > 1:
        raise InvalidInputError(
            f"The book mixes currencies {sorted(currencies)}; portfolio risk needs one currency.",
            field="currency",
        )
    session.commit()  # the loans are read: no transaction is held while the losses are computed
    pds = np.array([ln.pd for ln in loans])
    eads = np.array([float(ln.ead) for ln in loans])
    lgds = np.array([ln.lgd for ln in loans])
    rho = np.array([ln.asset_correlation for ln in loans])
    # Euler contributions by the recursion cost O(n^2) on large books: above
    # MAX_RECURSION_CONTRIBUTIONS loans only the EL contributions are given (ask method=mc)
    contributions_wanted = method != "recursion" or len(loans) <= MAX_RECURSION_CONTRIBUTIONS
    res = book_risk(
        pds,
        eads,
        lgds,
        rho,
        confidence,
        method,
        n_paths=paths,
        seed=seed,
        contributions=contributions_wanted,
    )
    contributions = []
    for i, ln in enumerate(loans):
        contributions.append(
            {
                "loan_id": ln.id,
                "expected_loss": float(res.el_contributions[i]),
                "var": None if res.var_contributions is None else float(res.var_contributions[i]),
                "es": None if res.es_contributions is None else float(res.es_contributions[i]),
            }
        )
    return {
        "method": method,
        "confidence": confidence,
        "currency": currencies.pop(),
        "n_loans": len(loans),
        "exposure": float(eads.sum()),
        "expected_loss": res.expected_loss,
        "var": res.var,
        "es": res.es,
        "economic_capital": res.economic_capital,
        "contributions": contributions,
        "seed": res.seed,
        "paths": res.n_paths,
    }


def schedule_rows(sched: pd.DataFrame) -> list[dict[str, Any]]:
    """Model schedule rows as plain values (not rounded)."""
    return [
        {"date": d, "interest": float(i), "principal": float(p), "balance": float(b)}
        for d, i, p, b in sched[["date", "interest", "principal", "balance"]].itertuples(
            index=False
        )
    ]


def booked_schedule_rows(loan: Loan) -> list[dict[str, Any]]:
    """The booked schedule: amounts rounded once to the currency's minor unit (the API contract).

    Interest and principal are rounded per row; the balance is carried in rounded
    amounts from the booked principal, and the last principal payment is whatever is
    left, so the principal payments add up to the principal exactly and the balance
    ends at 0.
    """
    sched = loan_schedule(loan)
    ccy = loan.currency
    balance = Decimal(loan.principal).quantize(Decimal(1).scaleb(-MINOR_UNITS[ccy]))
    rows = []
    n = len(sched)
    for k, (d, i, p) in enumerate(sched[["date", "interest", "principal"]].itertuples(index=False)):
        repaid = balance if k == n - 1 else min(round_to_minor_unit(float(p), ccy), balance)
        balance = balance - repaid
        rows.append(
            {
                "date": d,
                "interest": float(round_to_minor_unit(float(i), ccy)),
                "principal": float(repaid),
                "balance": float(balance),
            }
        )
    return rows
