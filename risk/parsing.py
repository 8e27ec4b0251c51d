"""The JSON form of a stress scenario: `parse_scenario` validates it and composes its parent.

A scenario may ``extends`` another by name; the parent is looked up by a resolver (the
built-in library of `risk.library` by default, or the caller's, e.g. a tenant's stored
scenarios). Every error is a `ConventionError` whose ``field`` is the offending path
(``shocks.pd_multiplier``, ``shocks.rights_events[0].value_factor``, ``extends``).

The value types (`Shocks`, `Scenario`, `RightsEvent`) and their composition live in
`risk.scenarios`; the library's scenarios are built from them, and this module reads the
library, so the three import one another in one direction only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from risk.library import get_builtin
from risk.scenarios import (
    _ADDITIVE,
    _MULTIPLIERS,
    _NAME,
    _SCENARIO_KEYS,
    _SHOCK_KEYS,
    RightsEvent,
    Scenario,
    Shocks,
    _fail,
    _number,
    compose,
)
from valuation.errors import ConventionError


def _parse_shocks(data: object) -> Shocks:
    if data is None:
        return Shocks()
    if not isinstance(data, Mapping):
        raise _fail("shocks", "an object of named shocks", data)
    unknown = sorted(set(data) - set(_SHOCK_KEYS))
    if unknown:
        raise ConventionError(
            f"The `shocks.{unknown[0]}` of `Scenario` is not a known shock; known shocks are "
            f"{', '.join(_SHOCK_KEYS)}.",
            field=f"shocks.{unknown[0]}",
        )
    kw: dict[str, Any] = {}
    for name in (*_MULTIPLIERS, *_ADDITIVE):
        if data.get(name) is not None:
            kw[name] = _number(data[name], f"shocks.{name}")
    for name in ("revenue_multiplier_by_category", "key_rate_shifts_bp"):
        if data.get(name) is not None:
            if not isinstance(data[name], Mapping):
                raise _fail(f"shocks.{name}", "an object", data[name])
            kw[name] = {str(k): _number(v, f"shocks.{name}.{k}") for k, v in data[name].items()}
    if data.get("downturn_lgd") is not None:
        if not isinstance(data["downturn_lgd"], bool):
            raise _fail("shocks.downturn_lgd", "a boolean", data["downturn_lgd"])
        kw["downturn_lgd"] = data["downturn_lgd"]
    if data.get("rights_events") is not None:
        raw = data["rights_events"]
        if not isinstance(raw, list | tuple):
            raise _fail(
                "shocks.rights_events", "a list of {category, cross_border, value_factor}", raw
            )
        events = []
        for i, e in enumerate(raw):
            where = f"shocks.rights_events[{i}]"
            if not isinstance(e, Mapping):
                raise _fail(where, "an object {category, cross_border, value_factor}", e)
            extra = sorted(set(e) - {"category", "cross_border", "value_factor"})
            if extra:
                raise _fail(f"{where}.{extra[0]}", "absent (unknown field)", e[extra[0]])
            for key in ("category", "cross_border", "value_factor"):
                if key not in e:
                    raise _fail(f"{where}.{key}", "given", None)
            try:
                events.append(RightsEvent(e["category"], e["cross_border"], e["value_factor"]))
            except ConventionError as exc:
                key = (exc.field or "").rsplit(".", 1)[-1]
                raise ConventionError(
                    str(exc).replace("shocks.rights_events.", f"{where}."), field=f"{where}.{key}"
                ) from None
        kw["rights_events"] = tuple(events)
    return Shocks(**kw)


Resolver = Callable[[str], Mapping[str, Any] | Scenario | None]


def parse_scenario(
    data: object,
    resolve: Resolver | Mapping[str, Any] | None = None,
    *,
    _seen: tuple[str, ...] = (),
) -> Scenario:
    """Parse and validate a scenario from its JSON form, composing any parent.

    Parameters
    ----------
    data : mapping
        ``{"name", "extends" (optional), "horizon_months" (optional, default 12 or the
        parent's), "shocks" (optional), "description" (optional)}``.
    resolve : callable or mapping, optional
        Looks up a parent by name: returns its JSON form, a `Scenario`, or None when
        unknown. Defaults to the built-in library (`risk.library`).

    Returns
    -------
    Scenario
        The composed scenario.

    Raises
    ------
    ConventionError
        With ``field`` set to the offending path, e.g. ``"shocks.pd_multiplier"``.
    """
    if not isinstance(data, Mapping):
        raise _fail("scenario", "a JSON object", data)
    unknown = sorted(set(data) - set(_SCENARIO_KEYS))
    if unknown:
        raise _fail(
            unknown[0],
            f"absent (unknown field; known fields are {', '.join(_SCENARIO_KEYS)})",
            data[unknown[0]],
        )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail("name", "1..80 letters, digits, spaces or '_.-'", name)
    if resolve is None:
        resolve = get_builtin
    lookup: Resolver = resolve.get if isinstance(resolve, Mapping) else resolve
    shocks = _parse_shocks(data.get("shocks"))
    horizon = data.get("horizon_months")
    parent_name = data.get("extends")
    if parent_name is not None:
        if not isinstance(parent_name, str) or not parent_name:
            raise _fail("extends", "the name of another scenario", parent_name)
        if parent_name == name or parent_name in _seen:
            raise _fail(
                "extends",
                "free of cycles (a scenario cannot extend itself through "
                f"{' -> '.join((*_seen, name, parent_name))})",
                parent_name,
            )
        raw_parent = lookup(parent_name)
        if raw_parent is None:
            raise _fail("extends", "the name of a known scenario", parent_name)
        if isinstance(raw_parent, Scenario):
            parent = raw_parent
        else:
            try:
                parent = parse_scenario(raw_parent, lookup, _seen=(*_seen, name))
            except ConventionError as exc:
                if exc.field == "extends":
                    raise
                raise ConventionError(
                    f"The parent scenario {parent_name!r} is invalid: {exc}", field="extends"
                ) from None
        shocks = compose(parent.shocks, shocks)
        if horizon is None:
            horizon = parent.horizon_months
    if horizon is None:
        horizon = 12
    if isinstance(horizon, float) and horizon.is_integer():
        horizon = int(horizon)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail("description", "a string", description)
    return Scenario(
        name=name,
        shocks=shocks,
        horizon_months=horizon,
        extends=parent_name,
        description=description,
    )
