"""Pledge consents: an asset's owner allows a lender tenant to pledge the asset up to an
amount, in a currency, until a date (`grant_consent`, `list_consents`); loan origination
checks them (`api.services.credit`).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from api.errors import InvalidInputError, NotFoundError
from api.schemas.credit import ConsentIn
from models.audit import record_audit
from models.credit import (
    PledgeConsent,
)
from models.registry import DataAsset
from valuation.conventions import (
    parse_currency,
    round_to_minor_unit,
)

# ------------------------------------------------------------------ pledge consents


def grant_consent(
    session: Session, asset_id: int, body: ConsentIn, *, tenant: str, role: str, actor: str
) -> PledgeConsent:
    """The asset's owner (its registrar, or an admin of its tenant) consents that
    ``body.lender_tenant`` may pledge it up to ``body.amount``; audited, committed."""
    asset = session.get(DataAsset, int(asset_id))
    if asset is None or (asset.owner_tenant != tenant):
        # another tenant's asset is not this caller's to give: the same answer as no asset
        raise NotFoundError(f"There is no asset {asset_id} of your tenant.")
    if body.lender_tenant == tenant:
        raise InvalidInputError(
            "The `lender_tenant` is the owner itself: its own loans need no consent.",
            field="lender_tenant",
        )
    currency = parse_currency(body.currency)  # 422 naming `currency` for an unknown code
    amount = round_to_minor_unit(body.amount, currency)
    if amount <= 0:
        raise InvalidInputError(
            f"The `amount` must be at least one minor unit of {currency} once rounded. Got {body.amount!r}.",
            field="amount",
        )
    consent = PledgeConsent(
        asset_id=int(asset_id),
        owner_tenant=tenant,
        lender_tenant=body.lender_tenant,
        amount=amount,
        currency=currency,
        expires_on=body.expires_on,
        created_by=actor,
    )
    session.add(consent)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="pledge_consent.grant",
        entity="pledge_consent",
        entity_id=str(consent.id),
        payload={
            "asset_id": int(asset_id),
            "lender_tenant": body.lender_tenant,
            "amount": str(consent.amount),
            "currency": currency,
            "expires_on": body.expires_on,
            "role": role,
        },
    )
    session.commit()
    return consent


def list_consents(session: Session, asset_id: int, *, tenant: str) -> list[PledgeConsent]:
    """The consents given on one of the tenant's own assets, newest first."""
    asset = session.get(DataAsset, int(asset_id))
    if asset is None or asset.owner_tenant != tenant:
        raise NotFoundError(f"There is no asset {asset_id} of your tenant.")
    return list(
        session.exec(
            select(PledgeConsent)
            .where(PledgeConsent.asset_id == int(asset_id))
            .order_by(col(PledgeConsent.id).desc())
        ).all()
    )
