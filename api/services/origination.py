"""Loan origination: book a quoted loan with its pledges, once per idempotency key.

The loan is quoted again (`api.services.credit.analyze`); then the pledged assets are
locked and their remaining capacity is checked under the lock, so two loans can never
pledge the same lending value. The loan, its pledges and an audit entry are written
together or not at all. A repeated request with the same ``Idempotency-Key`` answers the loan it
booked; the same key with another body is a 409.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from api.errors import ConflictError, InvalidInputError, NotFoundError
from api.schemas.credit import LoanCreateIn
from api.services.credit import analyze
from models.audit import record_audit
from models.credit import (
    Loan,
    LoanEvent,
    LoanStatus,
    Pledge,
    PledgeStatus,
    lock_assets_for_pledge,
    pledged_amounts,
    pledged_by_tenant,
)
from models.db import row_id
from valuation.conventions import round_to_minor_unit


def request_hash(body: LoanCreateIn) -> str:
    return hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()


def _existing_by_key(session: Session, tenant: str, key: str) -> Loan | None:
    return session.exec(
        select(Loan).where(Loan.tenant == tenant, Loan.idempotency_key == key)
    ).first()


def originate_loan(
    session: Session,
    body: LoanCreateIn,
    *,
    tenant: str,
    actor: str,
    idempotency_key: str | None = None,
) -> tuple[Loan, bool, list[str]]:
    """Originate a loan; returns ``(loan, created, warnings)`` (``created`` False on an idempotent replay).

    ``warnings``: tenor over 36 months, LTV over 60 %, principal over the advance-rate
    maximum (a policy exception the bank accepts by originating).

    Raises
    ------
    ConflictError
        The pledged assets lack capacity (checked under a row lock), or the idempotency key
        was used with a different request.
    """
    digest = request_hash(body)
    if idempotency_key is not None:
        if not (1 <= len(idempotency_key) <= 200):
            raise InvalidInputError(
                "The `Idempotency-Key` must have 1 to 200 characters.", field="Idempotency-Key"
            )
        prior = _existing_by_key(session, tenant, idempotency_key)
        if prior is not None:
            if prior.request_hash != digest:
                raise ConflictError(
                    "The Idempotency-Key was already used with a different request."
                )
            return prior, False, []
    analytics = analyze(session, body, tenant)
    session.rollback()  # end the read transaction before locking
    try:
        locked = lock_assets_for_pledge(session, body.asset_ids)
        if len(locked) != len(set(body.asset_ids)):
            raise NotFoundError("A pledged asset no longer exists.")
        pledged = pledged_amounts(session, body.asset_ids)
        own_now = pledged_by_tenant(session, body.asset_ids, tenant)
        principal = analytics.principal
        total_lv = analytics.lending_value
        shares = []
        for c in analytics.collateral:
            aid = int(c.asset.id)  # type: ignore[arg-type]
            amount = principal * c.lending_value / total_lv
            used = float(pledged.get(aid, Decimal(0)))
            room = c.lending_value - used
            if c.consent is not None:  # another tenant's asset: no more than the owner consented
                room = min(room, c.consent - float(own_now.get(aid, Decimal(0))))
            if amount > room * (1 + 1e-12) + 1e-9:
                # the remaining capacity only: never another lender's amounts
                raise ConflictError(
                    f"Asset {aid} lacks pledge capacity for this loan: {max(room, 0.0):,.2f} left, "
                    f"this loan needs {amount:,.2f}."
                )
            shares.append((c, amount))
        ccy = analytics.currency
        loan = Loan(
            tenant=tenant,
            idempotency_key=idempotency_key,
            request_hash=digest,
            borrower=body.borrower.name,
            currency=ccy,
            principal=round_to_minor_unit(principal, ccy),
            start_date=analytics.start_date,
            tenor_months=body.tenor_months,
            amortization=body.amortization,
            frequency_months=body.frequency_months,
            day_count=body.day_count,
            calendar=body.calendar,
            annual_rate=analytics.rate["total"],
            rate_funding=analytics.rate["funding"],
            rate_expected_loss=analytics.rate["expected_loss"],
            rate_capital=analytics.rate["capital"],
            rate_costs=analytics.rate["costs"],
            pd=analytics.pd,
            pd_source=analytics.pd_source,
            rating=body.borrower.rating,
            lgd=analytics.lgd,
            lgd_economic=analytics.lgd_economic,
            lgd_regulatory=analytics.lgd_regulatory,
            ead=round_to_minor_unit(analytics.ead, ccy),
            expected_loss=round_to_minor_unit(analytics.expected_loss, ccy),
            capital=round_to_minor_unit(analytics.capital, ccy),
            rwa=round_to_minor_unit(analytics.rwa, ccy),
            capital_k=analytics.capital_k,
            collateral_value=round_to_minor_unit(analytics.collateral_value, ccy),
            lending_value=round_to_minor_unit(analytics.lending_value, ccy),
            haircut=analytics.haircut,
            ltv=principal / analytics.collateral_value,
            asset_correlation=analytics.correlation,
            status=LoanStatus.LIVE.value,
            paths=analytics.paths,
            seed=analytics.seed,
            as_of=analytics.as_of,
            valuation_id=analytics.valuation_id,
            combined_ltv=analytics.combined_ltv,
            effective_maturity_years=analytics.effective_maturity_years,
            policy_exception=analytics.policy_exception,
        )
        session.add(loan)
        session.flush()
        for c, amount in shares:
            session.add(
                Pledge(
                    loan_id=row_id(loan),
                    asset_id=row_id(c.asset),
                    amount=round_to_minor_unit(amount, ccy),
                    asset_value=round_to_minor_unit(c.value, ccy),
                    lending_value=round_to_minor_unit(c.lending_value, ccy),
                    haircut=c.haircut,
                    currency=ccy,
                    status=PledgeStatus.LIVE.value,
                    valuation_id=c.valuation_id,
                )
            )
        session.add(
            LoanEvent(
                loan_id=row_id(loan),
                kind="origination",
                as_of=analytics.as_of,
                ltv=loan.ltv,
                threshold=None,
                collateral_value=loan.collateral_value,
                outstanding=loan.principal,
                cure_amount=Decimal(0),
            )
        )
        record_audit(
            session,
            actor=actor,
            action="loan.originate",
            entity="loan",
            entity_id=int(loan.id),  # type: ignore[arg-type]
            payload={
                "principal": str(loan.principal),
                "currency": ccy,
                "asset_ids": list(body.asset_ids),
                "rate": analytics.rate["total"],
                "combined_ltv": analytics.combined_ltv,
                "policy_exception": analytics.policy_exception,
            },
            tenant=tenant,
        )
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        if idempotency_key is not None:
            prior = _existing_by_key(session, tenant, idempotency_key)
            if prior is not None and prior.request_hash == digest:
                return prior, False, []
        raise ConflictError("The loan conflicts with another origination; retry.") from None
    except BaseException:
        session.rollback()
        raise
    return loan, True, analytics.warnings
