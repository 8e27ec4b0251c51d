"""``/v1/securitizations`` and ``/v1/data-notes/price`` (the API contract): create and price
securitizations of the caller's loans or of data-licence receivables, and price notes on a
share of a data product's revenue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.deps import Principal, RowId, SessionDep, require_roles
from api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, decode_cursor, encode_cursor
from api.reports import exports
from api.routers._body import int_position
from api.routers.jobs import accepted
from api.schemas.jobs import JobAccepted
from api.schemas.products import (
    DataNotePriceRequest,
    DataNotePriceResult,
    PriceRequest,
    PriceResult,
    PriceResultList,
    SecuritizationCreate,
    SecuritizationList,
    SecuritizationPublic,
)
from api.services import data_notes, pricing
from api.services import products as service
from models.db import row_id

router = APIRouter(tags=["products"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key (problem+json)."},
    403: {"description": "The key's role may not call this endpoint (problem+json)."},
    404: {"description": "No such object, or another tenant's (problem+json)."},
    422: {"description": "Invalid input; `errors` names each field (problem+json)."},
}

Originator = Annotated[Principal, Depends(require_roles("bank", "fund_manager"))]
Reader = Annotated[Principal, Depends(require_roles("bank", "fund_manager", "risk"))]
Pricer = Annotated[Principal, Depends(require_roles("fund_manager", "risk"))]
FundManager = Annotated[Principal, Depends(require_roles("fund_manager"))]


@router.post(
    "/securitizations",
    status_code=201,
    response_model=SecuritizationPublic,
    summary="Create a securitization",
    responses=_ERRORS,
)
def create_securitization(
    body: SecuritizationCreate, principal: Originator, session: SessionDep
) -> SecuritizationPublic:
    """Pool (`loan_ids` of the caller's loans, inline `loans`, or `receivables`), tranches
    senior first (`balance` or `attach`/`detach`; `coupon` or `spread_bp`), fees, reserve,
    principal rule, triggers (OC, cumulative default, DSCR trap/sweep tiers, rapid
    amortisation), advance rate. A bad structure is a 422 naming the field."""
    row, tranches = service.create_securitization(
        session, body, tenant=principal.tenant, actor=principal.actor
    )
    return service.securitization_public(row, tranches)


@router.get(
    "/securitizations",
    response_model=SecuritizationList,
    summary="List your securitizations",
    responses=_ERRORS,
)
def list_securitizations(
    request: Request,
    principal: Reader,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> SecuritizationList:
    """The caller's tenant's securitizations, by id; `?limit=` and `?cursor=`."""
    secret = str(request.app.state.settings.secret_key)
    after_id = int_position(decode_cursor(cursor, secret), "id")
    rows, more = service.list_securitizations(
        session, principal.tenant, limit=limit, after_id=after_id
    )
    items = [
        service.securitization_public(r, service.tranches_of(session, row_id(r))) for r in rows
    ]
    next_cursor = encode_cursor({"id": rows[-1].id}, secret) if more and rows else None
    return SecuritizationList(items=items, next_cursor=next_cursor)


@router.get(
    "/securitizations/{securitization_id}",
    response_model=SecuritizationPublic,
    summary="Read a securitization",
    responses=_ERRORS,
)
def read_securitization(
    securitization_id: RowId, principal: Reader, session: SessionDep
) -> SecuritizationPublic:
    row = service.get_securitization(session, securitization_id, principal.tenant)
    return service.securitization_public(row, service.tranches_of(session, row_id(row)))


@router.post(
    "/securitizations/{securitization_id}/price",
    response_model=PriceResult,
    summary="Price the tranches of a securitization",
    responses={
        **_ERRORS,
        202: {
            "model": JobAccepted,
            "description": (
                "Above 200,000 paths the pricing is a durable job: poll `GET /v1/jobs/{id}` "
                "(the `Location` header); its `result` is this operation's 200 answer."
            ),
        },
    },
)
def price_securitization(
    securitization_id: RowId,
    body: PriceRequest,
    principal: Pricer,
    request: Request,
    session: SessionDep,
) -> Any:
    """Per tranche: `expected_loss`, `prob_loss`, `price` (per 100), `fair_spread_bp`,
    `wal_years`, `duration`, `yield` and the SEC-SA `risk_weight` (decimal), from
    `paths` one-factor Gaussian copula paths (`seed`, `correlation`), or the `lhp` /
    `recursion` methods. The run is stored with its seed. Above 200,000 paths: 202 and a job."""
    if pricing.pricing_is_job(body):
        job = pricing.queue_pricing(
            session, securitization_id, body, tenant=principal.tenant, actor=principal.actor
        )
        return accepted(request.app, job)
    return pricing.price_securitization(
        session, securitization_id, body, tenant=principal.tenant, actor=principal.actor
    )


@router.get(
    "/securitizations/{securitization_id}/cashflows",
    summary="Cash flows of a securitization per class and period",
    responses={**_ERRORS, 200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def securitization_cashflows(
    securitization_id: RowId,
    request: Request,
    principal: Reader,
    session: SessionDep,
    scenario: Annotated[
        str, Query(description="`base`: the pool's own PD, CPR and recoveries.")
    ] = "base",
    cdr: Annotated[float | None, Query(ge=0.0, lt=1.0, description="Annual default rate.")] = None,
    cpr: Annotated[
        float | None, Query(ge=0.0, lt=1.0, description="Annual prepayment rate.")
    ] = None,
    severity: Annotated[
        float | None, Query(ge=0.0, le=1.0, description="Loss given default.")
    ] = None,
    discount_rate: Annotated[
        float | None,
        Query(
            gt=-1.0,
            lt=1.0,
            description="Flat curve for the floating index; default the deal currency's "
            "risk-free rate.",
        ),
    ] = None,
    format: exports.FormatQuery = None,
) -> Any:
    """Per class and period: `interest_due`, `interest_paid`, `principal_paid`, `writedown`,
    `pdl_cure`, `pdl_balance`, `note_balance`, `reserve`, `trigger`, under the base case or
    the given `cdr` / `cpr` / `severity`. JSON, or CSV with `Accept: text/csv` or
    `?format=csv` (also `xlsx`, `parquet`)."""
    frame, meta = pricing.securitization_cashflows(
        session,
        securitization_id,
        principal.tenant,
        scenario=scenario,
        cdr=cdr,
        cpr=cpr,
        severity=severity,
        discount_rate=discount_rate,
    )
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt is not None:
        return exports.response(frame, fmt, f"securitization-{securitization_id}-cashflows")
    return pricing.cashflows_json(frame, meta)


@router.get(
    "/securitizations/{securitization_id}/prices",
    response_model=PriceResultList,
    summary="Stored pricing runs",
    responses=_ERRORS,
)
def list_prices(
    securitization_id: RowId,
    request: Request,
    principal: Reader,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Any:
    """The securitization's stored pricing runs, newest first; `?limit=` and `?cursor=`."""
    secret = str(request.app.state.settings.secret_key)
    after_id = int_position(decode_cursor(cursor, secret), "run")
    items, last = pricing.pricing_history(
        session, securitization_id, principal.tenant, limit=limit, after_id=after_id
    )
    return {
        "items": items,
        "next_cursor": encode_cursor({"run": last}, secret) if last is not None else None,
    }


@router.post(
    "/data-notes/price",
    response_model=DataNotePriceResult,
    summary="Price a data-revenue note",
    responses=_ERRORS,
)
def price_data_note(
    body: DataNotePriceRequest, principal: FundManager, session: SessionDep
) -> DataNotePriceResult:
    """A note paying `share` of the asset's monthly revenue for `term_months`, each payment
    capped and floored (`cap`, `floor`: monthly amounts), with the issuer's default
    intensity `issuer_hazard` and `recovery_rate`; revenue paths from the valuation
    engine's Monte Carlo (`paths`, `seed`). Returns `price`, `distribution`, `yield`."""
    return data_notes.price_data_note_for(session, body)
