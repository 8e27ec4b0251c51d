"""``/v1/assets``: register and read data assets, their signals and their costs (the API contract)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import Principal, RowId, SessionDep, require_roles, secret_key
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
from api.schemas.registry import (
    SIGNAL_METRICS,
    AssetList,
    AssetMetadata,
    AssetPublic,
    AssetRegister,
    AssetStatusUpdate,
    CostRecordIn,
    CostRecordList,
    CostRecordOut,
    SignalImportResult,
    SignalList,
    SignalRow,
)
from api.services import registry
from api.services import signals as signal_service
from models.registry import ASSET_CATEGORIES, CostRecord
from valuation.conventions import parse_date

router = APIRouter()

Registrar = Annotated[Principal, Depends(require_roles("registrar"))]
Reader = Annotated[Principal, Depends(require_roles())]

_REGISTER = TypeAdapter(AssetRegister)
_METADATA = TypeAdapter(AssetMetadata)
_COSTS = TypeAdapter(list[CostRecordIn])

_ERRORS = ERROR_RESPONSES


_SIGNALS_DOC = (
    "Insert or update signals per (asset, metric, month); the same batch twice changes "
    "nothing. Body: `text/csv` with the header `month,metric,value`, or a JSON list of "
    "`{month, metric, value}`. `month` is `YYYY-MM`; `value` a finite number >= 0; metrics: "
    + "; ".join(f"`{k}` ({v})" for k, v in SIGNAL_METRICS.items())
    + ". One bad row (bad month, unknown metric, negative or non-numeric value, a repeated "
    "(metric, month)) rejects the whole batch with the row number and field "
    "(`rows[N].field`, N counted from 1 after the header); nothing is written. Only the "
    "asset's owner tenant may write; to other tenants the asset does not exist (404). "
    "Returns `{inserted, updated, unchanged}`."
)


@router.post(
    "/assets",
    status_code=201,
    response_model=AssetPublic,
    summary="Register a data asset",
    responses={**_ERRORS, 409: {"description": "The content fingerprint is already registered."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": AssetRegister.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["asset", "file"],
                        "properties": {
                            "asset": {
                                "type": "string",
                                "description": "JSON of the registration body without "
                                "`fingerprint_sha256`.",
                            },
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The content; its SHA-256 becomes the fingerprint.",
                            },
                        },
                    }
                },
            },
        }
    },
)
async def register_asset(
    request: Request, principal: Registrar, session: SessionDep
) -> AssetPublic:
    """Register an asset and issue its certificate number ``DA-<year>-<6 digits>``.

    Send JSON with ``fingerprint_sha256`` (64 hex characters), or ``multipart/form-data``
    with an ``asset`` part (the same JSON without the fingerprint) and a ``file`` part
    whose SHA-256 is computed here.
    """
    media_type = content_type(request)
    if media_type == "multipart/form-data":
        try:
            form = await request.form()
        except StarletteHTTPException as exc:  # Starlette's 400 for a body that is not multipart
            raise InvalidInputError(
                f"The multipart body cannot be read: {exc.detail}", field="body"
            ) from None
        upload, meta_text = form.get("file"), form.get("asset")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("The `file` part with the content is missing.", field="file")
        if not isinstance(meta_text, str):
            raise InvalidInputError("The `asset` part (JSON) is missing.", field="asset")
        try:
            meta_json = json.loads(meta_text)
        except (ValueError, RecursionError) as exc:
            raise InvalidInputError(
                f"The `asset` part is not JSON: {exc!r}.", field="asset"
            ) from None
        meta: AssetMetadata = validate(_METADATA, meta_json)
        fingerprint = await run_in_threadpool(registry.fingerprint_stream, upload.file)
        data = AssetRegister(**meta.model_dump(), fingerprint_sha256=fingerprint)
    elif media_type == "application/json":
        data = validate(_REGISTER, await json_body(request))
    else:
        raise unsupported(media_type, "application/json or multipart/form-data")
    asset = await run_in_threadpool(
        registry.register_asset, session, data, tenant=principal.tenant, actor=principal.actor
    )
    return registry.asset_public(asset)


@router.get(
    "/assets", response_model=AssetList, summary="List registered assets", responses=_ERRORS
)
def list_assets(
    request: Request,
    principal: Reader,
    session: SessionDep,
    category: Annotated[
        str | None, Query(description=f"One of {', '.join(ASSET_CATEGORIES)}.")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> AssetList:
    """Every registered asset (the exchange's public record), by id, optionally one category."""
    after = decode_cursor(cursor, secret_key(request))
    after_id = int_position(after, "id")
    rows, more = registry.list_assets(session, category=category, limit=limit, after_id=after_id)
    next_cursor = encode_cursor({"id": rows[-1].id}, secret_key(request)) if more and rows else None
    return AssetList(items=[registry.asset_public(a) for a in rows], next_cursor=next_cursor)


@router.get(
    "/assets/{asset_id}", response_model=AssetPublic, summary="Read an asset", responses=_ERRORS
)
def get_asset(asset_id: RowId, principal: Reader, session: SessionDep) -> AssetPublic:
    """One registered asset."""
    return registry.asset_public(registry.get_asset(session, asset_id))


@router.patch(
    "/assets/{asset_id}",
    response_model=AssetPublic,
    summary="Change an asset's status",
    responses=_ERRORS,
)
def patch_asset(
    asset_id: RowId, update: AssetStatusUpdate, principal: Registrar, session: SessionDep
) -> AssetPublic:
    """Set ``status`` (``registered``, ``active``, ``suspended``, ``retired``). Only the
    asset's owner tenant may; to others the asset does not exist (404)."""
    asset = registry.set_asset_status(
        session, asset_id, update.status, tenant=principal.tenant, actor=principal.actor
    )
    return registry.asset_public(asset)


@router.put(
    "/assets/{asset_id}/signals",
    response_model=SignalImportResult,
    summary="Record monthly signals (CSV or JSON), idempotently",
    description=_SIGNALS_DOC,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "month,metric,value\n2025-01,revenue,1200.0\n2025-01,api_calls,48000\n",
                },
                "application/json": {
                    "schema": TypeAdapter(list[SignalRow]).json_schema(),
                    "example": [{"month": "2025-01", "metric": "revenue", "value": 1200.0}],
                },
            },
        }
    },
)
async def put_signals(
    asset_id: RowId, request: Request, principal: Registrar, session: SessionDep
) -> SignalImportResult:
    media_type = content_type(request)
    if media_type in ("text/csv", "text/plain"):
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("The CSV must be UTF-8 text.", field="body") from None
        rows: list[Any] = signal_service.parse_signals_csv(text)
        from_text = True
    elif media_type == "application/json":
        body = await json_body(request)
        if not isinstance(body, list):
            raise InvalidInputError(
                "The JSON body must be a list of {month, metric, value} objects.", field="body"
            )
        rows, from_text = body, False
    else:
        raise unsupported(media_type, "text/csv or application/json")
    result = await run_in_threadpool(
        signal_service.import_signals,
        session,
        asset_id,
        rows,
        tenant=principal.tenant,
        actor=principal.actor,
        from_text=from_text,
    )
    return SignalImportResult(**result.as_dict())


@router.get(
    "/assets/{asset_id}/signals",
    response_model=SignalList,
    summary="Read signals",
    responses=_ERRORS,
)
def get_signals(
    asset_id: RowId,
    request: Request,
    principal: Reader,
    session: SessionDep,
    metric: Annotated[str | None, Query(description="Only this metric.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> SignalList:
    """An asset's signals ordered by metric then month."""
    after = decode_cursor(cursor, secret_key(request))
    key = None
    if after is not None:
        try:
            key = (str(after["metric"]), parse_date(after["month"], field="cursor"))
        except (KeyError, ValueError):
            raise InvalidInputError(
                "The `cursor` does not belong to this list.", field="cursor"
            ) from None
    rows, more = signal_service.list_signals(
        session, asset_id, metric=metric, limit=limit, after=key
    )
    next_cursor = (
        encode_cursor(
            {"metric": rows[-1].metric, "month": rows[-1].month.isoformat()}, secret_key(request)
        )
        if more and rows
        else None
    )
    return SignalList(
        asset_id=asset_id,
        items=[SignalRow(month=f"{s.month:%Y-%m}", metric=s.metric, value=s.value) for s in rows],
        next_cursor=next_cursor,
    )


def _cost_out(row: CostRecord) -> CostRecordOut:
    return CostRecordOut(
        id=int(row.id or 0),
        asset_id=row.asset_id,
        category=row.category,
        amount=float(row.amount),
        currency=row.currency,
        incurred_on=row.incurred_on,
        recurring_months=row.recurring_months,
        created_at=row.created_at,
    )


@router.post(
    "/assets/{asset_id}/costs",
    status_code=201,
    response_model=CostRecordList,
    summary="Record cost records",
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            CostRecordIn.model_json_schema(),
                            TypeAdapter(list[CostRecordIn]).json_schema(),
                        ]
                    }
                }
            },
        }
    },
)
async def post_costs(
    asset_id: RowId, request: Request, principal: Registrar, session: SessionDep
) -> CostRecordList:
    """One cost record (object) or several (list). ``amount`` is per month when
    ``recurring_months`` > 0 (paid for that many months from ``incurred_on``), else one-off."""
    media_type = content_type(request)
    if media_type != "application/json":
        raise unsupported(media_type, "application/json")
    body = await json_body(request)
    records: list[CostRecordIn] = validate(_COSTS, [body] if isinstance(body, dict) else body)
    rows = await run_in_threadpool(
        registry.add_costs,
        session,
        asset_id,
        records,
        tenant=principal.tenant,
        actor=principal.actor,
    )
    return CostRecordList(items=[_cost_out(r) for r in rows])


@router.get(
    "/assets/{asset_id}/costs",
    response_model=CostRecordList,
    summary="Read cost records",
    responses=_ERRORS,
)
def get_costs(
    asset_id: RowId,
    request: Request,
    principal: Reader,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> CostRecordList:
    """An asset's cost records, oldest first."""
    after_id = int_position(decode_cursor(cursor, secret_key(request)), "id")
    rows, more = registry.list_costs(session, asset_id, limit=limit, after_id=after_id)
    next_cursor = encode_cursor({"id": rows[-1].id}, secret_key(request)) if more and rows else None
    return CostRecordList(items=[_cost_out(r) for r in rows], next_cursor=next_cursor)
