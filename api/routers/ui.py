"""The read-only dashboard at ``/ui``: server-rendered Jinja2 pages, no build step, no CDN.

Log in once with an API key (the form at ``/ui``); the key is kept in an HttpOnly,
SameSite=Strict session cookie (it goes when the browser closes) and checked on every
page like a bearer key, so a revoked key logs the browser out. Every page shows the
key's own tenant only: its assets (those it registered) with their latest quotes, its
loans with LTV and events, its deals, and its stress runs with their charts; each links
to the documents of `api.reports` (HTML, or PDF with ``?format=pdf``). What the key's
role may not read over the API is not shown here either. Nothing on these pages writes
(the only POSTs are log-in and log-out).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.deps import MAX_ROW_ID, Principal, SessionDep
from api.errors import ApiError, NotFoundError
from api.reports import charts, documents, render
from api.services import loan_book as loan_book_service
from api.services import products, registry
from api.services import quotes as quote_service
from api.services import risk as risk_service
from models.db import row_id
from models.registry import DataAsset
from models.security import authenticate
from models.valuation import AssetQuote, Valuation

router = APIRouter(prefix="/ui", include_in_schema=False)

COOKIE = "datafin_ui_key"
LOAN_ROLES = ("bank", "risk")
DEAL_ROLES = ("bank", "fund_manager", "risk")
STRESS_ROLES = ("risk",)
KeyCookie = Annotated[str | None, Cookie(alias=COOKIE)]
IntId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render.render_html(template, **context), status_code=status_code)


def _principal(session: Session, key: str | None) -> Principal | None:
    if not key:
        return None
    row = authenticate(session, key)
    if row is None:
        return None
    return Principal(key_id=str(row.id), role=row.role, tenant=row.tenant)


def _login(request: Request, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    response = _page(
        "ui_login.html.j2", status_code=status_code, error=error, title="datafin: log in"
    )
    if error:
        response.delete_cookie(COOKIE, path="/ui")
    return response


def _forbidden(principal: Principal, what: str) -> HTMLResponse:
    return _page(
        "ui_message.html.j2",
        status_code=403,
        principal=principal,
        title="Not for this role",
        message=f"The role `{principal.role}` may not read {what}.",
    )


def _not_found(principal: Principal, what: str) -> HTMLResponse:
    return _page(
        "ui_message.html.j2",
        status_code=404,
        principal=principal,
        title="Not found",
        message=f"No {what} of tenant {principal.tenant} has that id.",
    )


def _own_asset(session: Session, asset_id: int, tenant: str) -> DataAsset | None:
    asset = session.get(DataAsset, asset_id)
    return asset if asset is not None and asset.owner_tenant == tenant else None


def _latest_quote(session: Session, asset_id: int) -> AssetQuote | None:
    return session.exec(
        select(AssetQuote)
        .where(AssetQuote.asset_id == asset_id, col(AssetQuote.public))
        .order_by(col(AssetQuote.id).desc())
        .limit(1)
    ).first()


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, key: KeyCookie = None) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(
            request,
            "The saved key is no longer valid; log in again." if key else None,
            status_code=401 if key else 200,
        )
    counts = {
        "assets": len(
            session.exec(
                select(DataAsset.id).where(DataAsset.owner_tenant == principal.tenant)
            ).all()
        )
    }
    if principal.has_role(*LOAN_ROLES):
        counts["loans"] = len(
            loan_book_service.list_loans(session, principal.tenant, limit=10_000, after=None)[0]
        )
    if principal.has_role(*DEAL_ROLES):
        counts["deals"] = len(
            products.list_securitizations(session, principal.tenant, limit=10_000)[0]
        )
    if principal.has_role(*STRESS_ROLES):
        counts["stress runs"] = len(
            risk_service.list_runs(session, tenant=principal.tenant, limit=10_000)[0]
        )
    return _page("ui_home.html.j2", principal=principal, counts=counts, title="datafin dashboard")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, session: SessionDep, api_key: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Check the key like a bearer key; keep it in a session cookie (no expiry: it goes
    when the browser closes)."""
    if _principal(session, api_key.strip()) is None:
        return _login(request, "That API key is not valid.", status_code=401)
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        COOKIE,
        api_key.strip(),
        httponly=True,
        samesite="strict",
        path="/ui",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/ui", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("/assets", response_class=HTMLResponse)
def assets_page(request: Request, session: SessionDep, key: KeyCookie = None) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    rows = session.exec(
        select(DataAsset)
        .where(DataAsset.owner_tenant == principal.tenant)
        .order_by(col(DataAsset.id))
    ).all()
    items = [{"asset": a, "quote": _latest_quote(session, int(a.id))} for a in rows]  # type: ignore[arg-type]
    return _page("ui_assets.html.j2", principal=principal, items=items, title="Assets")


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(
    asset_id: IntId, request: Request, session: SessionDep, key: KeyCookie = None
) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    asset = _own_asset(session, asset_id, principal.tenant)
    if asset is None:
        return _not_found(principal, "asset")
    valuations, _ = quote_service.list_valuations(session, asset_id, limit=50, after_id=None)
    latest = valuations[0] if valuations else None
    income_svg = income_caption = None
    if latest is not None:
        from api.reports import valuation as valuation_report

        row = session.get(Valuation, latest["id"])
        doc = json.loads(row.result_json)  # type: ignore[union-attr]
        result, _note = valuation_report._rerun(session, row, doc)  # type: ignore[arg-type]
        income_svg, income_caption = valuation_report.income_chart(session, row, result)  # type: ignore[arg-type]
    return _page(
        "ui_asset.html.j2",
        principal=principal,
        asset=registry.asset_public(asset),
        valuations=valuations,
        latest=latest,
        quote=_latest_quote(session, asset_id),
        income_svg=income_svg,
        income_caption=income_caption,
        title=asset.name,
    )


@router.get("/loans", response_class=HTMLResponse)
def loans_page(request: Request, session: SessionDep, key: KeyCookie = None) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    if not principal.has_role(*LOAN_ROLES):
        return _forbidden(principal, "loans")
    loans, _ = loan_book_service.list_loans(session, principal.tenant, limit=10_000, after=None)
    items = [
        {
            "loan": loan_book_service.loan_view(session, ln),
            "events": loan_book_service.loan_events(session, row_id(ln)),
        }
        for ln in loans
    ]
    return _page("ui_loans.html.j2", principal=principal, items=items, title="Loans")


@router.get("/loans/{loan_id}", response_class=HTMLResponse)
def loan_page(
    loan_id: IntId, request: Request, session: SessionDep, key: KeyCookie = None
) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    if not principal.has_role(*LOAN_ROLES):
        return _forbidden(principal, "loans")
    try:
        loan = loan_book_service.get_loan(session, loan_id, principal.tenant)
    except NotFoundError:
        return _not_found(principal, "loan")
    return _page(
        "ui_loan.html.j2",
        principal=principal,
        loan=loan_book_service.loan_view(session, loan),
        risk=loan_book_service.loan_risk(session, loan),
        schedule=loan_book_service.booked_schedule_rows(loan),
        title=f"Loan {loan_id}",
    )


@router.get("/deals", response_class=HTMLResponse)
def deals_page(request: Request, session: SessionDep, key: KeyCookie = None) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    if not principal.has_role(*DEAL_ROLES):
        return _forbidden(principal, "deals")
    rows, _ = products.list_securitizations(session, principal.tenant, limit=10_000)
    items = [
        products.securitization_public(r, products.tranches_of(session, row_id(r))) for r in rows
    ]
    return _page("ui_deals.html.j2", principal=principal, items=items, title="Deals")


@router.get("/stress-runs", response_class=HTMLResponse)
def stress_runs_page(request: Request, session: SessionDep, key: KeyCookie = None) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    if not principal.has_role(*STRESS_ROLES):
        return _forbidden(principal, "stress runs")
    runs, _ = risk_service.list_runs(session, tenant=principal.tenant, limit=200)
    return _page(
        "ui_stress_runs.html.j2",
        principal=principal,
        items=[risk_service.run_view(r) for r in runs],
        title="Stress runs",
    )


@router.get("/stress-runs/{run_id}", response_class=HTMLResponse)
def stress_run_page(
    run_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    request: Request,
    session: SessionDep,
    key: KeyCookie = None,
) -> Response:
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    if not principal.has_role(*STRESS_ROLES):
        return _forbidden(principal, "stress runs")
    try:
        run = risk_service.get_run(session, run_id, tenant=principal.tenant)
    except NotFoundError:
        return _not_found(principal, "stress run")
    view = risk_service.run_view(run)
    aggregate = chart_svg = None
    if run.status == "succeeded":
        from api.reports.stress import MAIN_METRICS, RATIO_METRICS

        aggregate = risk_service.results_json(session, run)["aggregate"]
        rows = [
            (m, aggregate[m]["base"], aggregate[m]["stressed"])
            for m in MAIN_METRICS
            if m in aggregate
            and aggregate[m]["base"] is not None
            and aggregate[m]["stressed"] is not None
        ]
        chart_svg = (
            charts.stress_metrics(rows, f"{run.scenario_name}: stressed as % of base")
            if rows
            else None
        )
    else:
        RATIO_METRICS = frozenset()  # noqa: N806
    return _page(
        "ui_stress_run.html.j2",
        principal=principal,
        run=view,
        aggregate=aggregate,
        chart_svg=chart_svg,
        ratio_metrics=RATIO_METRICS,
        title=f"Stress run {run.scenario_name}",
    )


@router.get("/documents/{kind}/{object_id}")
def document(
    kind: str,
    object_id: Annotated[str, Path(max_length=64)],
    request: Request,
    session: SessionDep,
    key: KeyCookie = None,
    format: Annotated[str | None, Query()] = None,
) -> Response:
    """A report for the logged-in tenant (the same documents as the API's report routes)."""
    principal = _principal(session, key)
    if principal is None:
        return _login(request, status_code=401)
    roles = {"valuation": (), "loan": LOAN_ROLES, "deal": DEAL_ROLES, "stress": STRESS_ROLES}
    if kind not in roles:
        return _not_found(principal, "document")
    if roles[kind] and not principal.has_role(*roles[kind]):
        return _forbidden(principal, f"{kind} documents")
    if not object_id.isdigit() or not 0 < int(object_id) < 2**63:  # ids are integers
        return _not_found(principal, kind)
    if kind == "valuation":
        valuation = session.get(Valuation, int(object_id))
        if valuation is None or _own_asset(session, valuation.asset_id, principal.tenant) is None:
            return _not_found(principal, "valuation")
    fmt = render.negotiate(format, None)
    try:
        body, stem = documents.build(kind, session, int(object_id), principal.tenant, fmt)
    except ApiError as exc:  # not found (another tenant's), or a run that has not succeeded
        return _page(
            "ui_message.html.j2",
            status_code=exc.status_code,
            principal=principal,
            title="Not available",
            message=exc.detail,
        )
    return render.response(body, fmt, stem)
