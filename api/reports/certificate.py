"""Collateral certificate of a loan.

Ties the loan to its collateral and to the record: the loan terms, each pledged asset
with its registry certificate number, the valuation the loan relied on (id and inputs
hash), haircut and lending value, LTV and combined LTV, PD / LGD / EL / capital (Basel
IRB, as booked), and the hash of the loan's origination entry in the hash-chained audit
log, so a reader can check with ``datafin audit verify`` that the entry is in an
unbroken chain. The certificate number ``CC-<loan id>-<first 8 hex of that hash>`` names
both.

Fields that newer loans carry (``valuation_id``, ``combined_ltv``,
``effective_maturity_years``) are shown when present; for older loans the valuation is
the asset's latest one stored before origination, and says so.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from api.reports.common import base_context
from api.services import loan_book as loan_book_service
from api.services import registry
from models.audit import AuditEntry
from models.valuation import Valuation


def origination_entry(session: Session, loan_id: int) -> AuditEntry | None:
    """The audit entry that recorded the loan's origination."""
    return session.exec(
        select(AuditEntry)
        .where(
            AuditEntry.entity == "loan",
            AuditEntry.entity_id == str(loan_id),
            AuditEntry.action == "loan.originate",
        )
        .order_by(col(AuditEntry.seq))
    ).first()


def _valuation_relied_on(
    session: Session, loan: Any, pledge: Any, asset_id: int
) -> dict[str, Any] | None:
    recorded = getattr(pledge, "valuation_id", None) or getattr(loan, "valuation_id", None)
    row = session.get(Valuation, int(recorded)) if recorded else None
    basis: str | None
    if row is not None and row.asset_id == asset_id:
        basis = "recorded with the loan"
    else:
        row = session.exec(
            select(Valuation)
            .where(Valuation.asset_id == asset_id, col(Valuation.created_at) <= loan.created_at)
            .order_by(col(Valuation.id).desc())
        ).first()
        basis = (
            "not recorded by this loan: the asset's latest valuation stored before origination"
            if row is not None
            else None
        )
    if row is None:
        return None
    return {
        "id": row.id,
        "as_of": row.as_of,
        "value": float(row.value),
        "currency": row.currency,
        "inputs_sha256": row.inputs_sha256,
        "model_version": row.model_version,
        "basis": basis,
    }


def certificate_context(session: Session, loan_id: int, tenant: str) -> dict[str, Any]:
    """Everything the certificate shows (another tenant's loan is a NotFoundError)."""
    loan = loan_book_service.get_loan(session, loan_id, tenant)
    view = loan_book_service.loan_view(session, loan)
    risk = loan_book_service.loan_risk(session, loan)
    pledges = []
    for p in loan_book_service.loan_pledges(session, loan_id):
        asset = registry.get_asset(session, p.asset_id)
        pledges.append(
            {
                "asset_id": p.asset_id,
                "certificate_no": asset.certificate_no,
                "name": asset.name,
                "category": asset.category,
                "fingerprint_sha256": asset.fingerprint_sha256,
                "amount": float(p.amount),
                "asset_value": float(p.asset_value),
                "lending_value": float(p.lending_value),
                "haircut": p.haircut,
                "status": p.status,
                "valuation": _valuation_relied_on(session, loan, p, p.asset_id),
            }
        )
    entry = origination_entry(session, loan_id)
    number = f"CC-{loan_id:06d}-{entry.hash[:8] if entry else 'unaudited'}"
    ctx = base_context(f"Collateral certificate {number}")
    ctx.update(
        {
            "number": number,
            "loan": view,
            "risk": risk,
            "pledges": pledges,
            "combined_ltv": view.get("combined_ltv"),
            "effective_maturity_years": view.get("effective_maturity_years"),
            "entry": entry,
            "events": risk.get("events") or [],
        }
    )
    return ctx
