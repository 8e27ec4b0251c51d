"""Endpoints owned by CREDIT: /v1/loans..., /v1/portfolio/risk.

`api/app.py` includes this router with ``prefix="/v1"``. A loan is visible to its own
tenant only (another tenant's loan is a 404). Bad input is a 422 problem+json naming the
field; a pledge beyond the assets' capacity is a 409; nothing is written in either case.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import Principal, SessionDep, require_roles, secret_key
from api.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from api.reports import exports
from api.routers._body import int_position
from api.routers.jobs import accepted
from api.schemas.credit import (
    LoanCreatedOut,
    LoanCreateIn,
    LoanEventList,
    LoanEventOut,
    LoanList,
    LoanOut,
    LoanQuoteIn,
    LoanQuoteOut,
    LoanRiskOut,
    PortfolioRiskOut,
    RevalueIn,
    RevalueOut,
    ScheduleRowOut,
)
from api.schemas.jobs import JobAccepted
from api.services import credit as service
from api.services import loan_book as loan_book_service
from api.services import origination

router = APIRouter(tags=["loans"])

BankOnly = Annotated[Principal, Depends(require_roles("bank"))]
BankOrRisk = Annotated[Principal, Depends(require_roles("bank", "risk"))]
LoanId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Loan id.")]


@router.post("/loans/quote", response_model=LoanQuoteOut)
def quote(body: LoanQuoteIn, principal: BankOnly, session: SessionDep) -> dict[str, Any]:
    """Lending value, haircut, maximum principal, PD/LGD/EAD/EL, capital and the rate, part by part."""
    return service.quote_loan(session, body, principal.tenant)


@router.post("/loans", status_code=201, response_model=LoanCreatedOut)
def originate(
    body: LoanCreateIn,
    principal: BankOnly,
    session: SessionDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    """Originate a loan against data assets (409 when they lack pledge capacity).

    A repeated ``Idempotency-Key`` with the same body returns the loan created the first
    time (header ``Idempotent-Replayed: true``); with a different body it is a 409.
    """
    loan, created, warnings = origination.originate_loan(
        session,
        body,
        tenant=principal.tenant,
        actor=principal.actor,
        idempotency_key=idempotency_key,
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    view = loan_book_service.loan_view(session, loan)
    view["warnings"] = warnings
    return view


@router.get("/loans", response_model=LoanList)
def list_loans(
    request: Request,
    principal: BankOrRisk,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Any:
    """The caller's loans, oldest first."""
    after = decode_cursor(cursor, secret_key(request))
    rows, more = loan_book_service.list_loans(
        session, principal.tenant, limit=limit, after=int_position(after, "id")
    )
    next_cursor = encode_cursor({"id": rows[-1].id}, secret_key(request)) if more and rows else None
    return {
        "items": [loan_book_service.loan_view(session, r) for r in rows],
        "next_cursor": next_cursor,
    }


@router.get("/loans/{loan_id}", response_model=LoanOut)
def get_loan(loan_id: LoanId, principal: BankOrRisk, session: SessionDep) -> Any:
    return loan_book_service.loan_view(
        session, loan_book_service.get_loan(session, loan_id, principal.tenant)
    )


@router.get("/loans/{loan_id}/schedule", response_model=list[ScheduleRowOut])
def get_schedule(
    loan_id: LoanId,
    request: Request,
    principal: BankOrRisk,
    session: SessionDep,
    format: exports.FormatQuery = None,
) -> Any:
    """Schedule rows: ``date``, ``interest``, ``principal``, ``balance``, rounded to the minor unit.
    ``?format=csv|xlsx|parquet`` (or ``Accept``) gives the same rows as a file."""
    loan = loan_book_service.get_loan(session, loan_id, principal.tenant)
    rows = loan_book_service.booked_schedule_rows(loan)
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt is not None:
        return exports.response(
            exports.schedule_frame(loan_id, rows), fmt, f"loan-{loan_id}-schedule"
        )
    return rows


@router.get("/loans/{loan_id}/risk", response_model=LoanRiskOut)
def get_risk(loan_id: LoanId, principal: BankOrRisk, session: SessionDep) -> Any:
    """PD, LGD (economic and regulatory), EAD, EL, capital, RWA, LTV and the stored events."""
    return loan_book_service.loan_risk(
        session, loan_book_service.get_loan(session, loan_id, principal.tenant)
    )


@router.post(
    "/loans/revaluations",
    status_code=202,
    response_model=JobAccepted,
    summary="Revalue every live loan of your tenant (a durable job)",
)
def revalue_all(
    principal: BankOrRisk, request: Request, session: SessionDep, body: RevalueIn | None = None
) -> JSONResponse:
    """A job (poll `GET /v1/jobs/{id}`, the `Location` header) that revalues each live loan
    as `POST /v1/loans/{id}/revalue` does, all in one transaction: every new LTV and event
    is stored, or none. Its `result`: `loans`, `events` by kind, and each loan's figures."""
    job = loan_book_service.queue_revaluation(
        session, body or RevalueIn(), tenant=principal.tenant, actor=principal.actor
    )
    return accepted(request.app, job)


@router.post("/loans/{loan_id}/revalue", response_model=RevalueOut)
def revalue(
    loan_id: LoanId, principal: BankOrRisk, session: SessionDep, body: RevalueIn | None = None
) -> dict[str, Any]:
    """Revalue the pledged assets, store the new LTV and any warning / margin_call / liquidation event."""
    loan = loan_book_service.get_loan(session, loan_id, principal.tenant)
    return loan_book_service.revalue_loan(session, loan, body or RevalueIn(), actor=principal.actor)


@router.get("/loans/{loan_id}/events", response_model=LoanEventList)
def list_events(
    loan_id: LoanId,
    request: Request,
    principal: BankOrRisk,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Stored events of the loan, oldest first (origination, revaluation, warning, margin_call,
    liquidation): ``{"items": [...], "next_cursor": ...}``."""
    loan = loan_book_service.get_loan(session, loan_id, principal.tenant)
    after = int_position(decode_cursor(cursor, secret_key(request)), "id")
    rows, more = loan_book_service.list_events(session, int(loan.id), limit=limit, after=after)  # type: ignore[arg-type]
    next_cursor = encode_cursor({"id": rows[-1].id}, secret_key(request)) if more and rows else None
    return {
        "items": [
            LoanEventOut.model_validate(loan_book_service.event_view(e)).model_dump(mode="json")
            for e in rows
        ],
        "next_cursor": next_cursor,
    }


@router.get("/portfolio/risk", response_model=PortfolioRiskOut)
def portfolio_risk(
    request: Request,
    principal: BankOrRisk,
    session: SessionDep,
    confidence: Annotated[float, Query(gt=0.0, lt=1.0)] = 0.999,
    method: Literal["recursion", "lhp", "mc"] = "recursion",
    paths: Annotated[int, Query(ge=1000, le=1_000_000)] = service.PORTFOLIO_MC_PATHS,
    seed: Annotated[int, Query(ge=0, le=2**62)] = 0,
    format: exports.FormatQuery = None,
) -> Any:
    """EL, VaR, ES, economic capital and Euler contributions of the caller's live loans.
    ``?format=csv|xlsx|parquet`` (or ``Accept``): a portfolio row, then one row per loan."""
    view = loan_book_service.portfolio_risk_view(
        session, principal.tenant, confidence=confidence, method=method, paths=paths, seed=seed
    )
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt is not None:
        return exports.response(exports.portfolio_frame(view), fmt, "portfolio-risk")
    return view
