"""Admin endpoints: the tenant's API keys (list, revoke) and its audit log.

Keys are listed without their secrets; a revoked key is refused at once (the principal
cache drops it when the revoking transaction commits). Both lists are the admin's own
tenant, filtered in SQL, paged with signed cursors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import Principal, RowId, SessionDep, require_roles, secret_key
from api.errors import InvalidInputError, NotFoundError
from api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, decode_cursor, encode_cursor
from api.routers._body import ERROR_RESPONSES, int_position
from api.schemas.admin import ApiKeyList, ApiKeyOut, AuditEntryOut, AuditList
from models import audit, security

router = APIRouter()

Admin = Annotated[Principal, Depends(require_roles("admin"))]


def _key_out(row: security.ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(row, from_attributes=True)


@router.get(
    "/keys",
    response_model=ApiKeyList,
    summary="List the tenant's API keys",
    responses=ERROR_RESPONSES,
)
def list_keys(
    request: Request,
    principal: Admin,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> ApiKeyList:
    """Every API key of the caller's tenant, revoked ones included, by id; never a secret."""
    after_id = int_position(decode_cursor(cursor, secret_key(request)), "id")
    rows, more = security.list_api_keys(
        session, tenant=principal.tenant, limit=limit, after_id=after_id
    )
    next_cursor = encode_cursor({"id": rows[-1].id}, secret_key(request)) if more and rows else None
    return ApiKeyList(items=[_key_out(r) for r in rows], next_cursor=next_cursor)


@router.delete(
    "/keys/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke an API key",
    responses=ERROR_RESPONSES,
)
def revoke_key(key_id: RowId, principal: Admin, session: SessionDep) -> ApiKeyOut:
    """Revoke one of the tenant's keys (audited); it is refused (401) from the next request.
    Revoking a revoked key changes nothing. Another tenant's key is a 404."""
    row = security.revoke_api_key(session, key_id, actor=principal.actor, tenant=principal.tenant)
    if row is None:
        raise NotFoundError(f"There is no API key {key_id} in this tenant.")
    session.commit()
    return _key_out(row)


@router.get(
    "/audit",
    response_model=AuditList,
    summary="Read the tenant's audit log",
    responses=ERROR_RESPONSES,
)
def list_audit(
    request: Request,
    principal: Admin,
    session: SessionDep,
    entity: Annotated[
        str | None,
        Query(max_length=80, description="Only entries about this kind of object, e.g. `loan`."),
    ] = None,
    entity_id: Annotated[
        str | None, Query(max_length=80, description="Only entries about this object id.")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="From this time (RFC 3339), inclusive.")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Before this time (RFC 3339), exclusive.")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> AuditList:
    """The tenant's audit entries in chain order (``seq``), with their hashes, so that a reader
    can check them against `datafin audit verify`."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise InvalidInputError(
                f"The `{name}` must carry a time zone (e.g. 2026-01-01T00:00:00Z).", field=name
            )
    after_seq = int_position(decode_cursor(cursor, secret_key(request)), "seq")
    rows, more = audit.list_entries(
        session,
        tenant=principal.tenant,
        limit=limit,
        after_seq=after_seq,
        entity=entity,
        entity_id=entity_id,
        since=since,
        until=until,
    )
    next_cursor = (
        encode_cursor({"seq": rows[-1].seq}, secret_key(request)) if more and rows else None
    )
    return AuditList(
        items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=next_cursor,
    )
