"""Products service: create and read securitizations, their pools and tranches.

Pricing a stored securitization is `api.services.pricing`; data-revenue notes are
`api.services.data_notes`.

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
from typing import Any

from sqlmodel import Session, col, select

from api.clock import today
from api.errors import InvalidInputError, NotFoundError
from api.schemas.products import (
    SecuritizationCreate,
    SecuritizationPublic,
    TrancheOut,
)
from models.audit import record_audit
from models.credit import Loan, live_loans
from models.db import row_id
from models.products import Securitization, SecuritizationTranche
from products.pool import PoolLoan
from products.spec import deal_from_dict
from products.structure import Deal
from valuation.errors import ValuationError
from valuation.market import currency_defaults

_INDEX = re.compile(r"\[(\d+)\]")


def discount_rate_for(given: float | None, currency: str) -> float:
    """The flat rate a pricing discounts at: the one given, else the currency's risk-free
    rate (`valuation.market.DEFAULT_MARKET_DATA`; a 422 naming ``discount_rate`` when the
    currency has none)."""
    if given is not None:
        return float(given)
    return currency_defaults(currency, field="discount_rate").risk_free_rate


def dotted(field: str | None) -> str | None:
    """``tranches[1].attach`` -> ``tranches.1.attach`` (the API's field style)."""
    return None if field is None else _INDEX.sub(r".\1", field)


def as_invalid(exc: ValuationError) -> InvalidInputError:
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
        raise as_invalid(exc) from None
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


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# --------------------------------------------------------------------------- data notes
