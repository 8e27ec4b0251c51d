"""Stress scenarios of a tenant: the built-in library and the tenant's stored scenarios, their
JSON views, storing one (validated by `risk.parsing.parse_scenario`: a bad field is a 422
naming it) and resolving a reference (a name or an inline definition) to a `Scenario`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from api.clock import rfc3339
from api.errors import ConflictError
from models.audit import record_audit
from models.risk import StressScenario
from risk.library import BUILTIN_NAMES, builtins, get_builtin
from risk.parsing import parse_scenario
from risk.scenarios import Scenario
from valuation.errors import ConventionError, ValuationError


# ----------------------------------------------------------------------------- scenarios
def _stored(session: Session, tenant: str) -> dict[str, StressScenario]:
    rows = session.exec(select(StressScenario).where(StressScenario.tenant == tenant)).all()
    return {r.name: r for r in rows}


def scenario_resolver(session: Session, tenant: str) -> Callable[[str], Any]:
    """Look up a parent by name: the tenant's scenarios, then the built-in library."""
    stored = _stored(session, tenant)

    def resolve(name: str) -> Any:
        if name in stored:
            return stored[name].as_dict()
        return get_builtin(name)

    return resolve


def scenario_view(
    definition: Mapping[str, Any],
    scenario: Scenario,
    *,
    builtin: bool,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """What the API shows for a scenario: its definition and its composed shocks."""
    return {
        "name": scenario.name,
        "builtin": builtin,
        "definition": dict(definition),
        "horizon_months": scenario.horizon_months,
        "extends": scenario.extends,
        "description": scenario.description,
        "shocks": scenario.shocks.as_dict(),
        "created_at": rfc3339(created_at) if created_at else None,
    }


def list_scenarios(session: Session, tenant: str) -> list[dict[str, Any]]:
    """The built-in library, then the tenant's own scenarios by name."""
    out = [scenario_view(s.as_dict(), s, builtin=True) for s in builtins()]
    resolve = scenario_resolver(session, tenant)
    for name, row in sorted(_stored(session, tenant).items()):
        try:
            sc = parse_scenario(row.as_dict(), resolve)
        except ValuationError:  # a parent changed under it: still listed, unresolved
            out.append(
                {
                    "name": name,
                    "builtin": False,
                    "definition": row.as_dict(),
                    "shocks": None,
                    "created_at": rfc3339(row.created_at),
                }
            )
            continue
        out.append(scenario_view(row.as_dict(), sc, builtin=False, created_at=row.created_at))
    return out


def create_scenario(
    session: Session, body: Mapping[str, Any], *, tenant: str, actor: str
) -> dict[str, Any]:
    """Validate and store a tenant scenario (409 when the name is taken)."""
    scenario = parse_scenario(body, scenario_resolver(session, tenant))
    if scenario.name in BUILTIN_NAMES:
        raise ConflictError(
            f"The scenario name {scenario.name!r} belongs to the built-in "
            "library; choose another name (or extend it)."
        )
    if scenario.name in _stored(session, tenant):
        raise ConflictError(f"A scenario named {scenario.name!r} already exists.")
    row = StressScenario(
        name=scenario.name, tenant=tenant, definition=json.dumps(dict(body), sort_keys=True)
    )
    session.add(row)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # a concurrent request stored the same name first
        session.rollback()
        raise ConflictError(f"A scenario named {scenario.name!r} already exists.") from None
    record_audit(
        session,
        actor=actor,
        action="scenario.create",
        entity="stress_scenario",
        entity_id=str(row.id),
        payload=dict(body),
        tenant=tenant,
    )
    session.commit()
    return scenario_view(body, scenario, builtin=False, created_at=row.created_at)


def resolve_scenario(session: Session, tenant: str, ref: str | Mapping[str, Any]) -> Scenario:
    """A scenario by name (tenant's or built-in) or inline JSON; errors name the field."""
    resolve = scenario_resolver(session, tenant)
    if isinstance(ref, str):
        found = resolve(ref)
        if found is None:
            raise ConventionError(
                f"The `scenario` must name a built-in or stored scenario. Got {ref!r}.",
                field="scenario",
            )
        return found if isinstance(found, Scenario) else parse_scenario(found, resolve)
    if not isinstance(ref, Mapping):
        raise ConventionError(
            "The `scenario` must be a scenario name or a scenario object.", field="scenario"
        )
    try:
        return parse_scenario(ref, resolve)
    except ConventionError as exc:
        raise ConventionError(
            str(exc), field=f"scenario.{exc.field}" if exc.field else "scenario"
        ) from None
