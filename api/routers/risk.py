"""Endpoints owned by RISK: ``/v1/scenarios`` and ``/v1/stress-runs``.

Scenarios: the built-in library is listed with the tenant's own scenarios; POST stores a
tenant scenario (validated by `risk.scenarios`: a bad field is a 422 naming it). Stress
runs are jobs: POST returns 202 with the run id, GET gives ``status`` (queued, running,
succeeded, failed) and ``progress`` (0..1), ``/results`` gives the figures as JSON or, with
``Accept: text/csv``, CSV. Runs and user scenarios are tenant-scoped (another tenant's run
is a 404). Role: ``risk`` (``admin`` passes).

Additions to the API contract (its names are unchanged): a stress run may carry a ``reverse`` block
``{"limit": "expected_loss_budget" | "senior_tranche_loss" | "margin_calls", "threshold",
"max_scale"}``; the job then also finds the smallest scale of the scenario that breaks
the limit, reported as ``reverse`` in the results (and the run's ``record``). POST
``/v1/sensitivities`` answers synchronously (it is fast: one evaluation of nine bumped
variants) with DV01, CS01, revenue elasticity and correlation sensitivity per position and
in total, with the bump sizes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from api.clock import today
from api.deps import Principal, RowId, SessionDep, require_roles
from api.errors import InvalidInputError
from api.job_queue import get_jobs
from api.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from api.reports import exports
from api.routers.jobs import accepted
from api.schemas.jobs import JobAccepted
from api.schemas.risk import (
    ScenarioList,
    ScenarioOut,
    SensitivitiesRequest,
    StressRunAccepted,
    StressRunCreate,
    StressRunList,
    StressRunStatus,
)
from api.services import risk as service
from api.services import scenarios as scenarios_service
from api.services import sensitivities as sensitivities_service

router = APIRouter()

RiskPrincipal = Annotated[Principal, Depends(require_roles("risk"))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key's role may not call this endpoint."},
}


def _position(after: dict[str, Any] | None, kinds: dict[str, type]) -> dict[str, Any] | None:
    """A decoded cursor of this list (exactly ``kinds``' keys and types), else a 422: a
    cursor another list issued is signed too, but is not a position here."""
    if after is None:
        return None
    if set(after) != set(kinds) or not all(
        isinstance(after[k], t) and not isinstance(after[k], bool) for k, t in kinds.items()
    ):
        raise InvalidInputError(
            "The `cursor` must be a `next_cursor` returned by this list. "
            "Got a cursor of another list.",
            field="cursor",
        )
    return after


@router.get("/scenarios", response_model=ScenarioList, summary="List scenarios", responses=_ERRORS)
def list_scenarios(
    request: Request,
    principal: RiskPrincipal,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> ScenarioList:
    """The built-in library first, then the tenant's scenarios by name."""
    secret = str(request.app.state.settings.secret_key)
    after = _position(decode_cursor(cursor, secret), {"offset": int})
    offset = int(after["offset"]) if after else 0
    if offset < 0:
        raise InvalidInputError(
            "The `cursor` must be a `next_cursor` returned by this list.", field="cursor"
        )
    items = scenarios_service.list_scenarios(session, principal.tenant)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return ScenarioList(
        items=page, next_cursor=encode_cursor({"offset": offset + limit}, secret) if more else None
    )


@router.post(
    "/scenarios",
    status_code=201,
    response_model=ScenarioOut,
    summary="Store a scenario",
    responses={
        **_ERRORS,
        409: {"description": "The name is taken."},
        422: {"description": "A field breaks a rule; `errors` names it."},
    },
)
def create_scenario(
    principal: RiskPrincipal, session: SessionDep, body: Annotated[dict[str, Any], Body()]
) -> Any:
    """Body: ``{"name", "extends" (optional), "horizon_months", "shocks": {...}}`` (the API contract)."""
    return scenarios_service.create_scenario(
        session, body, tenant=principal.tenant, actor=principal.actor
    )


@router.post(
    "/stress-runs",
    status_code=202,
    response_model=StressRunAccepted,
    summary="Start a stress run",
    responses={**_ERRORS, 422: {"description": "Bad scenario; `errors` names the field."}},
)
def create_stress_run(
    request: Request, principal: RiskPrincipal, session: SessionDep, body: StressRunCreate
) -> JSONResponse:
    """Queue a run of ``scenario`` (a name or an inline scenario) over the tenant's book."""
    run = service.create_run(
        session,
        body.scenario,
        tenant=principal.tenant,
        actor=principal.actor,
        paths=body.paths,
        seed=body.seed,
        as_of=body.as_of,
        reverse=body.reverse.model_dump() if body.reverse else None,
        durable=True,
    )  # a job row: `datafin worker` runs it
    get_jobs(request.app).kick()  # JOBS_IN_PROCESS (development, tests): run it here too
    return JSONResponse(
        status_code=202,
        headers={"Location": f"/v1/stress-runs/{run.id}"},
        content={"id": run.id, "status": run.status, "progress": run.progress},
    )


@router.get(
    "/stress-runs",
    response_model=StressRunList,
    summary="List the tenant's stress runs, newest first",
    responses=_ERRORS,
)
def list_stress_runs(
    request: Request,
    principal: RiskPrincipal,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    secret = str(request.app.state.settings.secret_key)
    after = _position(decode_cursor(cursor, secret), {"at": str, "id": int})
    if after is not None:
        try:
            datetime.fromisoformat(after["at"])
        except ValueError:
            raise InvalidInputError(
                "The `cursor` must be a `next_cursor` returned by this list.", field="cursor"
            ) from None
    before = (str(after["at"]), int(after["id"])) if after else None
    rows, more = service.list_runs(session, tenant=principal.tenant, limit=limit, before=before)
    next_cursor = (
        encode_cursor({"at": rows[-1].created_at.isoformat(), "id": rows[-1].id}, secret)
        if more and rows
        else None
    )
    return {"items": [service.run_view(r) for r in rows], "next_cursor": next_cursor}


@router.get(
    "/stress-runs/{run_id}",
    response_model=StressRunStatus,
    summary="Status and progress of a stress run",
    responses={**_ERRORS, 404: {"description": "No such run for this tenant."}},
)
def get_stress_run(run_id: RowId, principal: RiskPrincipal, session: SessionDep) -> dict[str, Any]:
    return service.run_view(service.get_run(session, run_id, tenant=principal.tenant))


@router.get(
    "/stress-runs/{run_id}/results",
    summary="Results of a stress run",
    responses={
        **_ERRORS,
        404: {"description": "No such run for this tenant."},
        409: {"description": "The run has not succeeded."},
        200: {"content": {"application/json": {}, "text/csv": {}}},
    },
)
def get_stress_results(
    run_id: RowId,
    request: Request,
    principal: RiskPrincipal,
    session: SessionDep,
    format: exports.FormatQuery = None,
) -> Any:
    """The API contract's stress-results JSON, or CSV with ``Accept: text/csv``; ``?format=csv|xlsx|parquet``
    gives the CSV's rows and columns as that file."""
    run = service.get_run(session, run_id, tenant=principal.tenant)
    fmt = exports.export_format(format, request.headers.get("accept"))
    if fmt in ("xlsx", "parquet") or format == "csv":  # Accept: text/csv keeps the CSV below
        frame = exports.stress_frame(service.results_csv(session, run))
        return exports.response(frame, fmt or "csv", f"stress-run-{run.id}")
    if "text/csv" in request.headers.get("accept", ""):
        return Response(service.results_csv(session, run), media_type="text/csv")
    return service.results_json(session, run)


@router.post(
    "/sensitivities",
    summary="Sensitivities of the tenant's book",
    responses={
        **_ERRORS,
        422: {"description": "A field breaks a rule; `errors` names it."},
        202: {
            "model": JobAccepted,
            "description": (
                "A large book (positions x paths above 256,000) is a durable job: "
                "poll `GET /v1/jobs/{id}`; its `result` is this operation's 200 answer."
            ),
        },
    },
)
def book_sensitivities(
    principal: RiskPrincipal,
    request: Request,
    session: SessionDep,
    body: Annotated[SensitivitiesRequest | None, Body()] = None,
) -> Any:
    """Bump-and-revalue DV01, CS01, revenue elasticity and correlation sensitivity, per
    position (``kind``, ``id``) and in ``totals`` (per kind and ``total``), with the
    ``bumps`` used and their ``units``. Nothing is stored. Synchronous up to 256,000
    position-paths (the tenant's live loans, assets and tranches times ``paths``); above,
    202 and a job."""
    body = body or SensitivitiesRequest()
    as_of = body.as_of or today()
    if (
        sensitivities_service.sensitivity_work(session, principal.tenant, paths=body.paths)
        > sensitivities_service.SYNC_SENSITIVITY_WORK
    ):
        request_doc = {**body.model_dump(mode="json"), "as_of": as_of.isoformat()}
        job = sensitivities_service.queue_sensitivities(session, principal.tenant, request_doc)
        return accepted(request.app, job)
    session.commit()  # counting done: no transaction is held while the book is revalued
    return sensitivities_service.sensitivities_now(
        request.app.state.session_factory,
        principal.tenant,
        paths=body.paths,
        seed=body.seed,
        as_of=body.as_of or today(),
        horizon_months=body.horizon_months,
        bumps=body.bumps.model_dump(),
    )
