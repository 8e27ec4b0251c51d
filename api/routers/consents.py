"""Pledge consents: the owner of an asset lets a lender of another tenant pledge it.

Without a consent valid on the loan's date, a quote or loan pledging another tenant's asset
is a 403 naming the asset; with one, the lender's pledges on the asset stay within the
consented amount.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import Principal, RowId, SessionDep, require_roles
from api.routers._body import ERROR_RESPONSES
from api.schemas.credit import ConsentIn, ConsentOut
from api.services import consents as consents_service

router = APIRouter()

Owner = Annotated[Principal, Depends(require_roles("registrar"))]


def _out(row: object) -> ConsentOut:
    return ConsentOut.model_validate(row, from_attributes=True)


@router.post(
    "/assets/{asset_id}/consents",
    response_model=ConsentOut,
    status_code=201,
    summary="Consent to a pledge by another tenant",
    responses=ERROR_RESPONSES,
)
def grant_consent(
    asset_id: RowId, body: ConsentIn, principal: Owner, session: SessionDep
) -> ConsentOut:
    """The asset's registrar (its owner tenant) lets `lender_tenant` pledge the asset up to
    `amount` until `expires_on`; audited. Another tenant's asset is a 404."""
    return _out(
        consents_service.grant_consent(
            session,
            asset_id,
            body,
            tenant=principal.tenant,
            role=principal.role,
            actor=principal.actor,
        )
    )


@router.get(
    "/assets/{asset_id}/consents",
    response_model=list[ConsentOut],
    summary="Consents given on an asset",
    responses=ERROR_RESPONSES,
)
def list_consents(asset_id: RowId, principal: Owner, session: SessionDep) -> list[ConsentOut]:
    """Every consent the owner gave on this asset, newest first (owner tenant only)."""
    return [
        _out(r) for r in consents_service.list_consents(session, asset_id, tenant=principal.tenant)
    ]
