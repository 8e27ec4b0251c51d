"""``/v1/comparables``: exchange transactions of similar data products (the API contract)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from api.deps import Principal, SessionDep, require_roles
from api.errors import InvalidInputError
from api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, decode_cursor, encode_cursor
from api.routers._body import (
    ERROR_RESPONSES,
    content_type,
    int_position,
    json_body,
    unsupported,
    validate,
)
from api.schemas.registry import ComparableIn, ComparableList, ComparableOut
from api.services import comparables as comparable_service
from models.registry import Comparable

router = APIRouter()

_COMPARABLES = TypeAdapter(list[ComparableIn])


def _out(row: Comparable) -> ComparableOut:
    return ComparableOut(
        id=int(row.id or 0),
        category=row.category,
        price=float(row.price),
        currency=row.currency,
        traded_on=row.traded_on,
        records=row.records,
        quality_score=row.quality_score,
        rights_scope=row.rights_scope,
        annual_revenue=None if row.annual_revenue is None else float(row.annual_revenue),
        tenant=row.tenant,
        created_at=row.created_at,
    )


@router.post(
    "/comparables",
    status_code=201,
    response_model=ComparableList,
    summary="Record comparable transactions",
    responses=ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            ComparableIn.model_json_schema(),
                            TypeAdapter(list[ComparableIn]).json_schema(),
                        ]
                    }
                }
            },
        }
    },
)
async def post_comparables(
    request: Request,
    principal: Annotated[Principal, Depends(require_roles("registrar"))],
    session: SessionDep,
) -> ComparableList:
    """One transaction (object) or several (list); all or none are recorded."""
    media_type = content_type(request)
    if media_type != "application/json":
        raise unsupported(media_type, "application/json")
    body = await json_body(request)
    if isinstance(body, list) and len(body) > comparable_service.MAX_COMPARABLES_PER_REQUEST:
        raise InvalidInputError(
            f"At most {comparable_service.MAX_COMPARABLES_PER_REQUEST} comparables per request; "
            f"got {len(body)}.",
            field="body",
        )
    records: list[ComparableIn] = validate(_COMPARABLES, [body] if isinstance(body, dict) else body)
    rows = await run_in_threadpool(
        comparable_service.add_comparables,
        session,
        records,
        tenant=principal.tenant,
        actor=principal.actor,
    )
    return ComparableList(items=[_out(r) for r in rows], next_cursor=None)


@router.get(
    "/comparables",
    response_model=ComparableList,
    summary="List comparables",
    responses=ERROR_RESPONSES,
)
def list_comparables(
    request: Request,
    principal: Annotated[Principal, Depends(require_roles())],
    session: SessionDep,
    category: Annotated[str | None, Query(description="Only this category.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> ComparableList:
    """Recorded transactions by id, optionally of one category."""
    secret = str(request.app.state.settings.secret_key)
    after_id = int_position(decode_cursor(cursor, secret), "id")
    rows, more = comparable_service.list_comparables(
        session, category=category, limit=limit, after_id=after_id
    )
    next_cursor = encode_cursor({"id": rows[-1].id}, secret) if more and rows else None
    return ComparableList(items=[_out(r) for r in rows], next_cursor=next_cursor)


@router.put(
    "/comparables/{comparable_id}",
    response_model=ComparableOut,
    summary="Correct a comparable",
    responses=ERROR_RESPONSES,
)
def correct_comparable(
    body: ComparableIn,
    principal: Annotated[Principal, Depends(require_roles("registrar"))],
    session: SessionDep,
    comparable_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> ComparableOut:
    """Replace the figures of a comparable the caller's tenant recorded (an admin may
    correct any) with a whole new record, validated as on creation; audited with the
    figures before and after. Another tenant's comparable is a 404."""
    row = comparable_service.correct_comparable(
        session,
        comparable_id,
        body,
        tenant=principal.tenant,
        is_admin=principal.role == "admin",
        actor=principal.actor,
    )
    return _out(row)


@router.delete(
    "/comparables/{comparable_id}",
    status_code=204,
    response_class=Response,
    summary="Withdraw a comparable",
    responses=ERROR_RESPONSES,
)
def delete_comparable(
    principal: Annotated[Principal, Depends(require_roles("registrar"))],
    session: SessionDep,
    comparable_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> Response:
    """Remove a comparable the caller's tenant recorded (an admin may remove any); audited.

    Another tenant's comparable is a 404. Valuations already stored keep the inputs hash
    of the comparables they used; new valuations no longer see the removed row.
    """
    comparable_service.delete_comparable(
        session,
        comparable_id,
        tenant=principal.tenant,
        is_admin=principal.role == "admin",
        actor=principal.actor,
    )
    return Response(status_code=204)
