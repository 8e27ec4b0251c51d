"""Valuation services: value a registered asset from the database, persist, publish quotes.

Reading stored valuations and quotes is `api.services.quotes`.

One way to value a registered asset
-----------------------------------
Every caller (valuation requests, collateral assessment, loan revaluation, data-note
pricing, the stress book, reports, the CLI) goes through the same two steps:
:func:`load_inputs` reads what the registry holds in the caller's transaction, and
:func:`run_valuation` values it with no database (checks ``as_of`` and the currency,
builds the curve, maps "no approach can run" to one error per missing input).
:func:`value_registered_asset` is the two in one call; :func:`create_valuation` runs the
second and stores the result.

:func:`value_registered_asset` values one registered asset from what the registry
holds (its signals, cost records, the comparables of its category, its profile) and
returns the core's ``valuation.AssetValuation`` *including the simulation*
(``result.simulation``: a ``valuation.MonteCarloResult`` with ``values`` (n_paths,),
``revenue`` (n_paths, months) attributable monthly cash flows, ``horizon_value(h)``,
``std_error``, ``seed``). It reads only; nothing is written::

    from api.services.valuation import value_registered_asset
    result = value_registered_asset(session, asset_id, as_of=date(2026, 1, 1), seed=7)
    v0 = result.value                      # reconciled value, major units
    sim = result.simulation                # None only if the income approach could not run
    ratio = sim.horizon_value(6) / sim.values.mean()   # V_T / V_0 per path

Errors: ``api.errors.NotFoundError`` (no such asset), ``valuation.errors.ConventionError``
(bad input, 422 naming the field), ``api.errors.InvalidInputError`` (no approach can
run: one error per missing input).

:func:`create_valuation` does the same, then stores an immutable ``Valuation`` row
(SHA-256 of the canonical inputs, model version, seed) and its ``AssetQuote`` in one
transaction with an audit entry. The routers, the CLI (``datafin value``) and the demo
call these functions.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session

from api import quote_cache
from api.errors import InvalidInputError
from api.services import comparables as comparable_service
from api.services import registry
from api.services import signals as signal_service
from models.audit import record_audit
from models.registry import DataAsset
from models.valuation import AssetQuote, Valuation
from valuation import MODEL_VERSION, AssetProfile, AssetValuation, MarketData, value_asset
from valuation.conventions import parse_currency, round_money
from valuation.errors import ConventionError, NoMethodError
from valuation.haircut import DEFAULT_LIQUIDATION_HORIZON_MONTHS
from valuation.income import DEFAULT_MAX_LIFE_MONTHS
from valuation.market import DEFAULT_MARKET_DATA, default_curve
from valuation.results import COMPARABLE_FRAME_COLUMNS

ACTION = "valuation.create"


def market_for(as_of: date, currency: str, risk_free_rate: float | None = None) -> MarketData:
    """A flat risk-free curve for ``currency`` at ``as_of``: ``risk_free_rate``, else the
    currency's row of `valuation.market.DEFAULT_MARKET_DATA` (a 422 naming
    ``risk_free_rate`` when it has none)."""
    return default_curve(as_of, currency, risk_free_rate, field="risk_free_rate")


@dataclass(frozen=True, slots=True)
class AssetInputs:
    """What the registry holds for one asset, as the core wants it."""

    asset: DataAsset
    profile: AssetProfile
    signals: pd.DataFrame
    costs: pd.DataFrame
    comparables: pd.DataFrame


def load_inputs(session: Session, asset_id: int) -> AssetInputs:
    """Signals, costs, comparables (of the asset's category) and profile of a registered asset."""
    asset = registry.get_asset(session, asset_id)
    profile = AssetProfile.from_mapping(registry.asset_profile_dict(asset))
    return AssetInputs(
        asset=asset,
        profile=profile,
        signals=signal_service.signals_frame(session, asset_id),
        costs=registry.costs_frame(session, asset_id),
        comparables=comparable_service.comparables_frame(session, category=asset.category),
    )


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, dates ISO, non-finite floats as null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def canonical_json(value: Any) -> str:
    """Sorted-key, compact JSON of `value` after `_jsonable` (the hashing form)."""
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _frame_rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    rows = []
    for rec in frame[list(columns)].itertuples(index=False):
        rows.append([v.date().isoformat() if isinstance(v, pd.Timestamp) else v for v in rec])
    return sorted(_jsonable(rows), key=lambda r: json.dumps(r, sort_keys=True))


def inputs_sha256(
    inputs: AssetInputs,
    *,
    as_of: date,
    currency: str,
    paths: int,
    seed: int,
    market: MarketData,
    weights: Mapping[str, float] | None,
    assumptions: Mapping[str, Any] | None,
) -> str:
    """SHA-256 of the canonical form of everything a valuation depends on."""
    document = {
        "asset": inputs.profile.as_dict(),
        "signals": _frame_rows(inputs.signals, ("month", "metric", "value")),
        "costs": _frame_rows(
            inputs.costs, ("category", "amount", "currency", "incurred_on", "recurring_months")
        ),
        "comparables": _frame_rows(
            inputs.comparables,
            COMPARABLE_FRAME_COLUMNS,
        ),
        "as_of": as_of,
        "currency": currency,
        "paths": paths,
        "seed": seed,
        "market": market.as_dict(),
        "weights": dict(weights) if weights is not None else None,
        "assumptions": dict(assumptions or {}),
        "model_version": MODEL_VERSION,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def run_valuation(
    inputs: AssetInputs,
    *,
    as_of: date,
    currency: str,
    paths: int,
    seed: int,
    weights: Mapping[str, float] | None,
    assumptions: Mapping[str, Any] | None,
    risk_free_rate: float | None,
) -> tuple[AssetValuation, MarketData]:
    """Value loaded ``inputs`` (see `load_inputs`); touches no database, so callers run it
    after ending their read transaction. Returns the core result and the market data used."""
    ccy = parse_currency(currency)
    given = dict(assumptions or {})
    if (
        risk_free_rate is None
        and ccy not in DEFAULT_MARKET_DATA
        and given.get("discount_rate") is not None
    ):
        risk_free_rate = 0.0  # the discount rate replaces the curve entirely
    market = market_for(as_of, ccy, risk_free_rate)
    try:
        result = value_asset(
            inputs.signals,
            inputs.costs,
            inputs.comparables,
            inputs.profile,
            as_of,
            market,
            paths,
            seed,
            currency=ccy,
            weights=weights,
            assumptions=given,
        )
    except NoMethodError as exc:
        errors = [
            {"field": exc.fields[m], "message": f"{m} approach: {reason}"}
            for m, reason in exc.reasons.items()
        ]
        raise InvalidInputError(
            f"No valuation approach can run for asset {inputs.asset.id}: "
            + "; ".join(f"{m}: {r}" for m, r in exc.reasons.items()),
            errors=errors,
        ) from None
    return result, market


def value_registered_asset(
    session: Session,
    asset_id: int,
    *,
    as_of: date,
    currency: str = "CNY",
    paths: int = 10_000,
    seed: int = 0,
    weights: Mapping[str, float] | None = None,
    assumptions: Mapping[str, Any] | None = None,
    risk_free_rate: float | None = None,
) -> AssetValuation:
    """Value a registered asset from the database; read-only (see the module docstring).

    Parameters
    ----------
    session : Session
    asset_id : int
        Registry id of the asset.
    as_of : date
        Valuation date (signals of months ending before it are used).
    currency : str
        ISO 4217 valuation currency (default CNY).
    paths, seed : int
        Monte Carlo paths (1..1,000,000) and seed (recorded in the result).
    weights, assumptions : mapping, optional
        As in ``valuation.value_asset`` / the API contract.
    risk_free_rate : float, optional
        Flat risk-free rate for the curve; default `valuation.market.DEFAULT_MARKET_DATA`.

    Returns
    -------
    valuation.AssetValuation
        With ``simulation`` (``valuation.MonteCarloResult``) for credit and products.
    """
    inputs = load_inputs(session, asset_id)
    result, _market = run_valuation(
        inputs,
        as_of=as_of,
        currency=currency,
        paths=paths,
        seed=seed,
        weights=weights,
        assumptions=assumptions,
        risk_free_rate=risk_free_rate,
    )
    return result


MAX_BOOKED_AMOUNT = 1e16
"""Amounts are stored as ``Numeric(20, 4)``: at most 16 digits before the decimal point."""


def _money(amount: float, currency: str) -> Decimal:
    if math.isfinite(amount) and abs(amount) >= MAX_BOOKED_AMOUNT:
        raise ConventionError(
            f"The valuation gives {amount:.6g} {currency}, beyond what can be booked "
            f"(below {MAX_BOOKED_AMOUNT:.0e}); check the `assumptions` (e.g. `discount_rate`).",
            field="assumptions",
        )
    return round_money(float(amount), currency)


@dataclass(frozen=True, slots=True)
class CreatedValuation:
    """What `create_valuation` returns: the stored rows and the full core result."""

    row: Valuation
    quote: AssetQuote
    result: AssetValuation
    document: dict[str, Any]  # what the row's result_json holds


#: The most simulated path-months one HTTP valuation may ask for (``paths`` times the
#: longest month horizon its assumptions allow, with the liquidation horizon): 6 million,
#: e.g. 100,000 paths over 60 months, about 50 MB per simulated array. Larger work is
#: for the Python library or a batch job.
MAX_PATH_MONTHS = 6_000_000


def check_request_size(paths: int, assumptions: Mapping[str, Any] | None) -> None:
    """Refuse a valuation request above `MAX_PATH_MONTHS` (422 naming ``paths``)."""
    a = dict(assumptions or {})
    months = DEFAULT_MAX_LIFE_MONTHS
    for name in ("economic_life_months", "max_life_months", "contract_term_months"):
        value = a.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            months = max(months, int(value))
    horizon = a.get("liquidation_horizon_months", DEFAULT_LIQUIDATION_HORIZON_MONTHS)
    if (
        isinstance(horizon, int | float)
        and not isinstance(horizon, bool)
        and math.isfinite(horizon)
    ):
        months += max(int(horizon), 0)
    if int(paths) * months > MAX_PATH_MONTHS:
        raise InvalidInputError(
            f"The `paths` times the months simulated must be at most {MAX_PATH_MONTHS:,}: "
            f"{int(paths):,} paths x up to {months} months asks for {int(paths) * months:,}. "
            "Use fewer paths, a shorter life, or the Python library for larger runs.",
            field="paths",
        )


def create_valuation(
    session: Session,
    asset_id: int,
    *,
    as_of: date,
    currency: str = "CNY",
    paths: int = 10_000,
    seed: int = 0,
    weights: Mapping[str, float] | None = None,
    assumptions: Mapping[str, Any] | None = None,
    risk_free_rate: float | None = None,
    tenant: str,
    actor: str,
    publish: bool = False,
) -> CreatedValuation:
    """Value an asset, store the immutable valuation and its quote, audit, commit.

    ``publish``: the quote becomes the asset's public quote (the exchange's: valued by the
    asset's own registrar or an admin, see `may_publish`); otherwise it is the caller's own
    figure, returned and stored for its tenant but never shown as the asset's quote.
    Nothing is written when the valuation fails (the error propagates before any insert).
    """
    check_request_size(paths, assumptions)
    inputs = load_inputs(session, asset_id)
    # end the read transaction before the simulation: the computation holds no database
    # connection, and the writes below take a short transaction of their own
    session.commit()
    result, market = run_valuation(
        inputs,
        as_of=as_of,
        currency=currency,
        paths=paths,
        seed=seed,
        weights=weights,
        assumptions=assumptions,
        risk_free_rate=risk_free_rate,
    )
    ccy = result.currency
    digest = inputs_sha256(
        inputs,
        as_of=as_of,
        currency=ccy,
        paths=paths,
        seed=seed,
        market=market,
        weights=weights,
        assumptions=assumptions,
    )
    methods: dict[str, Any] = {}
    for name in ("income", "cost", "market"):
        if name in result.methods:
            m = result.methods[name]
            methods[name] = {
                "value": m.value,
                "assumptions": m.assumptions,
                "diagnostics": m.diagnostics,
                "distribution": m.distribution,
            }
        else:
            methods[name] = {
                "value": None,
                "assumptions": {},
                "diagnostics": {},
                "unavailable": result.unavailable.get(name),
            }
    details = result.as_dict()
    # the stored record, in plain JSON types once: the row keeps its canonical JSON and
    # the answer is read from this same document (as a later GET reads it from the row)
    document = _jsonable(
        {
            "methods": methods,
            "weights": result.weights,
            "distribution": result.distribution.as_dict(),
            "quote": result.quote.as_dict(),
            "simulation": details["simulation"],
            "assumptions": dict(assumptions or {}),
            "notes": list(result.notes),
            "market": market.as_dict(),
            "request": {
                "weights": dict(weights) if weights is not None else None,
                "risk_free_rate": risk_free_rate,
            },
            "warnings": details["warnings"],
            "reconciliation": details["reconciliation"],
            "sensitivities": details["sensitivities"],
            "model": details["model"],
            "histogram": details["histogram"],
        }
    )
    d = result.distribution
    row = Valuation(
        asset_id=asset_id,
        as_of=as_of,
        currency=ccy,
        paths=paths,
        seed=seed,
        model_version=result.model_version,
        inputs_sha256=digest,
        value=_money(result.value, ccy),
        mean=_money(d.mean, ccy),
        std=_money(d.std, ccy),
        p05=_money(d.p05, ccy),
        p50=_money(d.p50, ccy),
        p95=_money(d.p95, ccy),
        result_json=canonical_json(document),
        tenant=tenant,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    q = result.quote
    quote = AssetQuote(
        valuation_id=row.id,  # type: ignore[arg-type]
        asset_id=asset_id,
        category=inputs.asset.category,
        currency=ccy,
        as_of=q.as_of,
        valid_until=q.valid_until,
        mid=_money(q.mid, ccy),
        bid=_money(q.bid, ccy),
        ask=_money(q.ask, ccy),
        lending_value=_money(q.lending_value, ccy),
        haircut=float(q.haircut),
        public=publish,
    )
    session.add(quote)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action=ACTION,
        entity="valuation",
        entity_id=str(row.id),
        payload={
            "asset_id": asset_id,
            "inputs_sha256": digest,
            "value": str(row.value),
            "seed": seed,
            "paths": paths,
            "model_version": result.model_version,
            "quote_id": quote.id,
            "published": publish,
        },
        tenant=tenant,
    )
    session.commit()
    if publish:  # this process answers with the new public quote at once
        quote_cache.invalidate(asset_id)
    return CreatedValuation(row=row, quote=quote, result=result, document=document)


# ------------------------------------------------------------------ reading


def may_publish(session: Session, asset_id: int, *, role: str, tenant: str) -> bool:
    """Whether a valuation by this caller sets the asset's public quote: the exchange's
    quote belongs to the asset's registrar (its owner tenant) and to admins; a bank's or
    another tenant's valuation is its own."""
    if role == "admin":
        return True
    return role == "registrar" and registry.get_asset(session, asset_id).owner_tenant == tenant
