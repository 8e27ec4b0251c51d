"""Owner's consents for the lender tenants of the loan tests (another tenant's asset needs one)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from models.credit import PledgeConsent

LENDERS = ("bank-a", "bank-b", "tenant-a", "tenant-b")


def consent_all(
    session: Session,
    asset_ids: Iterable[int],
    owner: str = "owner",
    lenders: Iterable[str] = LENDERS,
) -> None:
    """Unlimited consents (until 2100) on every asset for every lender tenant; commits."""
    for aid in asset_ids:
        for lender in lenders:
            session.add(
                PledgeConsent(
                    asset_id=int(aid),
                    owner_tenant=owner,
                    lender_tenant=lender,
                    amount=Decimal("1e12"),
                    currency="CNY",
                    expires_on=date(2100, 1, 1),
                    created_by="test",
                )
            )
    session.commit()
