"""Reports (HTML, or PDF with ``Accept: application/pdf`` or ``?format=pdf``).

- GET ``/v1/valuations/{id}/report``: the appraisal report (any role: valuations are the
  exchange's public record, as ``GET /v1/valuations/{id}``).
- GET ``/v1/loans/{id}/certificate``: the collateral certificate (bank, risk; another
  tenant's loan is a 404).
- GET ``/v1/securitizations/{id}/report``: the deal report (bank, fund_manager, risk;
  tenant-scoped).
- GET ``/v1/stress-runs/{id}/report``: the stress report (risk; tenant-scoped).

`api/app.py` includes this router with ``prefix="/v1"``. The documents are built by
`api.reports`; the same functions serve ``datafin report`` and the dashboard.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response

from api.deps import MAX_ROW_ID, Principal, RowId, SessionDep, require_roles
from api.reports import documents, render

router = APIRouter(tags=["reports"])

Reader = Annotated[Principal, Depends(require_roles())]
BankOrRisk = Annotated[Principal, Depends(require_roles("bank", "risk"))]
DealReader = Annotated[Principal, Depends(require_roles("bank", "fund_manager", "risk"))]
RiskReader = Annotated[Principal, Depends(require_roles("risk"))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Loan id.")]
FormatQuery = Annotated[
    Literal["html", "pdf"] | None,
    Query(alias="format", description="`pdf` or `html` (default: by `Accept`, else HTML)."),
]
AcceptHeader = Annotated[str | None, Header(alias="Accept")]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {}, "application/pdf": {}},
        "description": "The report as HTML or PDF.",
    },
    401: {"description": "No valid API key (problem+json)."},
    403: {"description": "The key's role may not call this endpoint (problem+json)."},
    404: {"description": "No such object, or another tenant's (problem+json)."},
}


@router.get(
    "/valuations/{valuation_id}/report",
    summary="Appraisal report of a valuation",
    responses=_RESPONSES,
    response_class=Response,
)
def valuation_report_endpoint(
    valuation_id: RowId,
    principal: Reader,
    session: SessionDep,
    format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Any:
    """The asset, purpose and value type, as-of, approaches and why, assumptions with their
    sources, income forecast and value distribution charts, reconciliation, sensitivities,
    warnings, quote, model and library versions, and the inputs hash."""
    return _document("valuation", session, valuation_id, principal, format, accept)


@router.get(
    "/loans/{loan_id}/certificate",
    summary="Collateral certificate of a loan",
    responses=_RESPONSES,
    response_class=Response,
)
def loan_certificate_endpoint(
    loan_id: LoanId,
    principal: BankOrRisk,
    session: SessionDep,
    format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Any:
    """Loan terms, each pledged asset with its registry certificate number, the valuation
    relied on (id, inputs hash), haircut and lending value, LTV and combined LTV,
    PD/LGD/EL/capital, events, and the hash of the origination entry in the audit chain."""
    return _document("loan", session, loan_id, principal, format, accept)


@router.get(
    "/securitizations/{securitization_id}/report",
    summary="Deal report of a securitization",
    responses=_RESPONSES,
    response_class=Response,
)
def deal_report_endpoint(
    securitization_id: RowId,
    principal: DealReader,
    session: SessionDep,
    format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Any:
    """Structure, pool, base-case cash flows per class, tranche analytics, the pool loss
    distribution with the attachment points, and the SEC-SA risk weights."""
    return _document("deal", session, securitization_id, principal, format, accept)


@router.get(
    "/stress-runs/{run_id}/report",
    summary="Stress report of a run",
    responses={**_RESPONSES, 409: {"description": "The run has not succeeded."}},
    response_class=Response,
)
def stress_report_endpoint(
    run_id: RowId,
    principal: RiskReader,
    session: SessionDep,
    format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Any:
    """The aggregate table (base, stressed, change), a chart of the main metrics, the
    positions that lose most, the scenario and its rationale, and any reverse stress."""
    return _document("stress", session, run_id, principal, format, accept)


def _document(
    kind: str,
    session: Any,
    object_id: Any,
    principal: Principal,
    format: str | None,
    accept: str | None,
) -> Any:
    fmt = render.negotiate(format, accept)
    body, stem = documents.build(kind, session, object_id, principal.tenant, fmt)
    return render.response(body, fmt, stem)
