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

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from api.deps import Principal, RowId, SessionDep, require_roles
from api.reports import documents, render

router = APIRouter(tags=["reports"])

Reader = Annotated[Principal, Depends(require_roles())]
FormatQuery = Annotated[Literal["html", "pdf"] | None, Query(
    alias="format", description="`pdf` or `html` (default: by `Accept`, else HTML).")]
AcceptHeader = Annotated[str | None, Header(alias="Accept")]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}, "application/pdf": {}},
          "description": "The report as HTML or PDF."},
    401: {"description": "No valid API key (problem+json)."},
    403: {"description": "The key's role may not call this endpoint (problem+json)."},
    404: {"description": "No such object, or another tenant's (problem+json)."},
}


@router.get("/valuations/{valuation_id}/report", summary="Appraisal report of a valuation",
            responses=_RESPONSES, response_class=Response)
def valuation_report_endpoint(valuation_id: RowId, principal: Reader, session: SessionDep,
                              format: FormatQuery = None, accept: AcceptHeader = None) -> Any:
    """The asset, purpose and value type, as-of, approaches and why, assumptions with their
    sources, income forecast and value distribution charts, reconciliation, sensitivities,
    warnings, quote, model and library versions, and the inputs hash."""
    return _document("valuation", session, valuation_id, principal, format, accept)


def _document(kind: str, session: Any, object_id: Any, principal: Principal, format: str | None,
              accept: str | None) -> Any:
    fmt = render.negotiate(format, accept)
    body, stem = documents.build(kind, session, object_id, principal.tenant, fmt)
    return render.response(body, fmt, stem)
