"""Valuations and quotes (the API contract): POST/GET valuations, latest quotes, quotes by category, SSE stream.

`api/app.py` includes this router with ``prefix="/v1"``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api import quote_cache, streams
from api.deps import MAX_ROW_ID, Principal, RowId, SessionDep, require_roles, secret_key
from api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, decode_cursor, encode_cursor
from api.reports import exports
from api.routers._body import ERROR_RESPONSES, int_position
from api.schemas.valuation import QuoteList, QuoteOut, ValuationList, ValuationOut, ValuationRequest
from api.services import quotes as quote_service
from api.services import valuation as service

router = APIRouter()

Valuer = Annotated[Principal, Depends(require_roles("bank", "registrar"))]
Reader = Annotated[Principal, Depends(require_roles())]
EXPORT_MAX_ROWS = 100_000
"""An export carries the whole list, up to this many rows."""


@router.post(
    "/assets/{asset_id}/valuations",
    status_code=201,
    response_model=ValuationOut,
    summary="Value a registered asset",
    responses=ERROR_RESPONSES,
)
def create_valuation(
    asset_id: RowId, body: ValuationRequest, principal: Valuer, session: SessionDep
) -> ValuationOut:
    """Income, cost and market approaches, Monte Carlo distribution, reconciliation and quote.

    The valuation is stored immutably with the SHA-256 of its canonical inputs, the model
    version and the seed: the same inputs and seed give the same figures. When no approach
    can run, 422 lists what each one lacks (``signals``, ``costs``, ``comparables``).
    The quote becomes the asset's public quote only when the asset's own registrar (or an
    admin) values it; a bank's valuation is its own (``quote.public`` false) and never
    replaces the exchange's quote.
    """
    # the size ceiling before may_publish reads the asset (the service checks it again for
    # its other callers, the CLI and the demo)
    service.check_request_size(body.paths, body.assumptions)
    created = service.create_valuation(
        session,
        asset_id,
        as_of=body.as_of,
        currency=body.currency,
        paths=body.paths,
        seed=body.seed,
        weights=body.weights,
        assumptions=body.assumptions,
        risk_free_rate=body.risk_free_rate,
        tenant=principal.tenant,
        actor=principal.actor,
        publish=service.may_publish(
            session, asset_id, role=principal.role, tenant=principal.tenant
        ),
    )
    return ValuationOut.model_validate(
        quote_service.valuation_public(created.row, created.quote, created.document)
    )


@router.get(
    "/assets/{asset_id}/valuations",
    response_model=ValuationList,
    summary="Valuation history of an asset",
    responses=ERROR_RESPONSES,
)
def list_valuations(
    asset_id: RowId,
    request: Request,
    principal: Reader,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: exports.FormatQuery = None,
) -> Any:
    """Every valuation of the asset, newest first (each is immutable). ``?format=csv|xlsx|parquet``
    (or ``Accept``) exports the whole history, one row per valuation."""
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt is not None:
        items, _more = quote_service.list_valuations(
            session, asset_id, limit=EXPORT_MAX_ROWS, after_id=None
        )
        return exports.response(
            exports.valuations_frame(items), fmt, f"asset-{asset_id}-valuations"
        )
    after_id = int_position(decode_cursor(cursor, secret_key(request)), "id")
    items, more = quote_service.list_valuations(session, asset_id, limit=limit, after_id=after_id)
    next_cursor = (
        encode_cursor({"id": items[-1]["id"]}, secret_key(request)) if more and items else None
    )
    return ValuationList(
        items=[ValuationOut.model_validate(i) for i in items], next_cursor=next_cursor
    )


@router.get(
    "/valuations/{valuation_id}",
    response_model=ValuationOut,
    summary="Read a valuation",
    responses=ERROR_RESPONSES,
)
def get_valuation(valuation_id: RowId, principal: Reader, session: SessionDep) -> ValuationOut:
    """One stored valuation."""
    return ValuationOut.model_validate(quote_service.get_valuation(session, valuation_id))


@router.get(
    "/quotes/stream",
    summary="Server-sent events, one per new quote",
    response_class=StreamingResponse,
    responses={
        **ERROR_RESPONSES,
        200: {
            "description": "An event stream: `event: quote`, `id`, `data` (the quote's JSON).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def stream_quotes(
    request: Request,
    principal: Reader,
    since_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_ROW_ID,
            description="Replay quotes with a larger id first (default: only new ones).",
        ),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="Close after this many events.")
    ] = None,
    timeout_seconds: Annotated[
        float | None, Query(gt=0, le=3600, description="Close after this many seconds.")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """``text/event-stream``: ``event: quote``, ``id: <quote id>``, ``data: <quote JSON>``.

    One poller per server process reads new quotes and hands them to every open stream
    (`api.streams`), so an idle stream holds no database connection; it resumes after
    ``Last-Event-ID`` when the client reconnects. At most 5 open streams per API key (the
    next is a 429); a comment line every 15 s without quotes keeps the connection alive;
    a client that stops reading is dropped once 1,000 quotes wait for it.
    """
    factory = request.app.state.session_factory

    def _last() -> int:
        with factory() as session:
            return quote_service.last_quote_id(session)

    def _poll(after: int) -> list[dict[str, object]]:
        with factory() as session:
            return quote_service.quotes_after(session, after)

    hub = streams.hub_for(request.app, _poll, _last)
    try:
        sub = await hub.subscribe(principal.key_id)
    except streams.TooManyStreams:
        raise HTTPException(
            status_code=429,
            detail=f"This API key already has {hub.max_per_key} open quote streams; "
            "close one first.",
            headers={"Retry-After": "5"},
        ) from None
    live_from = hub.last_seen or 0
    if last_event_id is not None and last_event_id.isdigit():
        start = int(last_event_id)
    elif since_id is not None:
        start = since_id
    else:
        start = live_from

    async def events() -> AsyncIterator[str]:
        last = start
        sent = 0
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        try:
            yield ": quotes stream\n\n"
            while last < live_from:  # replay what the client missed, then the live feed
                batch = await run_in_threadpool(_poll, last)
                if not batch:
                    break
                for quote in batch:
                    last = int(quote["id"])  # type: ignore[call-overload]
                    yield f"id: {last}\nevent: quote\ndata: {QuoteOut.model_validate(quote).model_dump_json()}\n\n"
                    sent += 1
                    if limit is not None and sent >= limit:
                        return
            while True:
                wait = streams.KEEPALIVE_SECONDS
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return
                try:
                    quote = await asyncio.wait_for(sub.queue.get(), timeout=wait)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if sub.overflowed:
                    return
                if int(quote["id"]) <= last:  # type: ignore[call-overload]
                    continue  # already sent by the replay
                last = int(quote["id"])  # type: ignore[call-overload]
                yield f"id: {last}\nevent: quote\ndata: {QuoteOut.model_validate(quote).model_dump_json()}\n\n"
                sent += 1
                if limit is not None and sent >= limit:
                    return
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/quotes/{asset_id}",
    response_model=QuoteOut,
    summary="Latest quote of an asset",
    responses=ERROR_RESPONSES,
)
async def get_quote(
    asset_id: RowId, request: Request, principal: Reader, format: exports.FormatQuery = None
) -> Any:
    """The asset's latest quote: mid, bid, ask, lending value, haircut, validity
    (``?format=csv|xlsx|parquet``: one row). A server process may answer from a cache
    that lags a publication in another process by up to ``QUOTE_CACHE_SECONDS`` (1 s)."""
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt is not None:
        return await run_in_threadpool(_quote_export, request, asset_id, fmt)
    # the hot path: no thread and no database while the cached answer is fresh
    cache = quote_cache.for_app(request.app)
    body = cache.get(asset_id)
    if body is None:  # expired: one read, which every concurrent miss awaits
        body = await cache.get_or_load(
            asset_id, lambda: run_in_threadpool(_quote_json, request, asset_id)
        )
    return Response(body, media_type="application/json")


def _quote_json(request: Request, asset_id: int) -> bytes:
    with request.app.state.session_factory() as session:
        quote = quote_service.latest_quote(session, asset_id)
    # validated once and serialised here: the hot read skips FastAPI's second pass
    return QuoteOut.model_validate(quote).model_dump_json().encode()


def _quote_export(request: Request, asset_id: int, fmt: exports.ExportFormat) -> Any:
    with request.app.state.session_factory() as session:
        quote = quote_service.latest_quote(session, asset_id)
    return exports.response(exports.quotes_frame([quote]), fmt, f"asset-{asset_id}-quote")


@router.get(
    "/quotes",
    response_model=QuoteList,
    summary="Latest quotes, by category",
    responses=ERROR_RESPONSES,
)
def list_quotes(
    request: Request,
    principal: Reader,
    session: SessionDep,
    category: Annotated[
        str | None, Query(max_length=40, description="Only assets of this category.")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: exports.FormatQuery = None,
) -> Any:
    """The latest quote of every quoted asset (of ``category``), by asset id.
    ``?format=csv|xlsx|parquet`` (or ``Accept``) exports all of them, one row per asset."""
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt is not None:
        items, _more = quote_service.list_latest_quotes(
            session, category=category, limit=EXPORT_MAX_ROWS, after_asset_id=None
        )
        return exports.response(exports.quotes_frame(items), fmt, "quotes")
    after = int_position(decode_cursor(cursor, secret_key(request)), "asset_id")
    items, more = quote_service.list_latest_quotes(
        session, category=category, limit=limit, after_asset_id=after
    )
    next_cursor = (
        encode_cursor({"asset_id": items[-1]["asset_id"]}, secret_key(request))
        if more and items
        else None
    )
    return QuoteList(items=[QuoteOut.model_validate(i) for i in items], next_cursor=next_cursor)
