"""The collateral of a loan request, from the record: for each pledged asset the valuation the
loan relies on (the one named in the request, else the asset's latest stored valuation on
or before ``as_of``), its stored value, haircut and lending value, its Monte Carlo paths
re-drawn with the valuation's own date, seed, paths and assumptions (after the read
transaction ends) and scaled to the stored value, and the pledge capacity left
(`assess_assets`). Used by loan quotes and originations (`api.services.credit`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from api.services.valuation import load_inputs, run_valuation
from credit.collateral import AdvancePolicy
from models.credit import (
    consented_amount,
    pledged_amounts,
    pledged_by_tenant,
)
from models.registry import DataAsset
from models.valuation import AssetQuote, Valuation
from valuation.haircut import DEFAULT_LIQUIDATION_HORIZON_MONTHS

# ----------------------------------------------------------------------------- collateral


@dataclass
class AssetCollateral:
    asset: DataAsset
    value: float
    haircut: float
    lending_value: float
    advance_rate: float
    max_loan: float
    pledged: float
    # simulated paths scaled to the reconciled value
    value_0_sim: float
    revenue: np.ndarray = field(repr=False)
    sim: Any = field(repr=False)
    valuation_id: int = 0
    paths: int = 0
    seed: int = 0
    #: this lender's own live pledges on the asset (what it may be shown of the asset's pledges)
    pledged_own: float = 0.0
    #: the owner's consent for this lender (another tenant's asset), None for the owner's own
    consent: float | None = None

    def value_paths(self, month: int) -> np.ndarray:
        """Collateral value per path at ``month`` months after as_of, in reconciled terms."""
        return np.asarray(self.sim.horizon_value(month)) * (self.value / self.value_0_sim)

    @property
    def available(self) -> float:
        """Capacity left for this lender: the asset's lending value less every live pledge,
        and, on another tenant's asset, no more than the owner's consent less its own pledges."""
        room = max(0.0, self.lending_value - self.pledged)
        if self.consent is not None:
            room = min(room, max(0.0, self.consent - self.pledged_own))
        return room


def relied_on_valuation(
    session: Session,
    asset_id: int,
    *,
    as_of: date,
    valuation_id: int | None = None,
    tenant: str | None = None,
) -> tuple[Valuation, AssetQuote]:
    """The stored valuation (and its quote) a loan on ``asset_id`` relies on.

    ``valuation_id`` when given (it must be a valuation of this asset), else the asset's
    latest valuation dated on or before ``as_of``. With ``tenant``, only valuations that
    tenant may rely on count: the exchange's public ones and the tenant's own (another
    lender's own valuation is neither visible nor usable).

    Raises
    ------
    InvalidInputError
        (field ``valuation_id``) the named valuation is of another asset or dated after
        ``as_of``, or the asset has no stored valuation yet.
    """
    visible = (
        sa.or_(col(AssetQuote.public), col(Valuation.tenant) == tenant)
        if tenant is not None
        else sa.true()
    )
    if valuation_id is not None:
        row = session.exec(
            select(Valuation)
            .join(AssetQuote, col(AssetQuote.valuation_id) == col(Valuation.id))
            .where(col(Valuation.id) == int(valuation_id), visible)
        ).first()
        if row is None or row.asset_id != asset_id:
            raise InvalidInputError(
                f"The `valuation_id` {valuation_id} is not a valuation of asset {asset_id}.",
                field="valuation_id",
            )
        if row.as_of > as_of:
            raise InvalidInputError(
                f"The `valuation_id` {valuation_id} is dated {row.as_of}, after the loan's as_of {as_of}.",
                field="valuation_id",
            )
    else:
        row = session.exec(
            select(Valuation)
            .join(AssetQuote, col(AssetQuote.valuation_id) == col(Valuation.id))
            .where(Valuation.asset_id == asset_id, col(Valuation.as_of) <= as_of, visible)
            .order_by(col(Valuation.as_of).desc(), col(Valuation.id).desc())
            .limit(1)
        ).first()
        if row is None:
            raise InvalidInputError(
                f"Asset {asset_id} has no stored valuation on or before {as_of}: value it first "
                f"(POST /v1/assets/{asset_id}/valuations), or name one with `valuation_id`.",
                field="valuation_id",
            )
    quote = session.exec(select(AssetQuote).where(AssetQuote.valuation_id == row.id)).first()
    if quote is None:  # pragma: no cover - written with the valuation
        raise NotFoundError(f"The valuation {row.id} has no quote.")
    return row, quote


def _replay_plan(session: Session, row: Valuation) -> Callable[[], Any]:
    """The stored valuation's re-run, as a computation that needs no database.

    The inputs (signals, costs, comparables, profile) are read now, in the caller's
    transaction; the returned callable simulates with the valuation's own date, seed,
    paths and assumptions, so the caller can end its transaction first.
    """
    doc = json.loads(row.result_json)
    request = doc.get("request") or {}
    inputs = load_inputs(session, int(row.asset_id))
    as_of, currency, paths, seed = row.as_of, row.currency, int(row.paths), int(row.seed)

    def run() -> Any:
        result, _market = run_valuation(
            inputs,
            as_of=as_of,
            currency=currency,
            paths=paths,
            seed=seed,
            weights=request.get("weights"),
            assumptions=doc.get("assumptions") or None,
            risk_free_rate=request.get("risk_free_rate"),
        )
        return result

    return run


def assess_assets(
    session: Session,
    asset_ids: Sequence[int],
    *,
    as_of: date,
    currency: str,
    valuation_id: int | None = None,
    policy: AdvancePolicy | None = None,
    for_pledge: bool = True,
    tenant: str | None = None,
) -> list[AssetCollateral]:
    """Each pledged asset's value, haircut, lending value and capacity, from its stored valuation.

    ``valuation_id`` names the valuation relied on for the asset it values (the others use
    their latest). Raises `NotFoundError` for an unknown asset, `InvalidInputError` for a
    valuation that cannot be relied on (see `relied_on_valuation`) or an asset whose
    registrant holds no holding right (field ``rights.holding``), and `ConflictError` for
    an asset that cannot be pledged (suspended or retired, or no simulated revenue).

    Every read happens first; the read transaction then ends (``session.commit()``) and
    the stored valuations are re-simulated with no database connection held. Without
    ``for_pledge`` (revaluation) nothing is simulated and the caller's transaction stays
    open: only the stored figures are used.
    """
    pol = policy or AdvancePolicy()
    reads: list[
        tuple[DataAsset, Valuation, AssetQuote, float | None, Callable[[], Any] | None]
    ] = []
    pledged = pledged_amounts(session, list(asset_ids))
    own = pledged_by_tenant(session, list(asset_ids), tenant) if tenant is not None else pledged
    named_for: int | None = None
    if valuation_id is not None:
        named = session.get(Valuation, int(valuation_id))
        if named is None or int(named.asset_id) not in {int(a) for a in asset_ids}:
            raise InvalidInputError(
                f"The `valuation_id` {valuation_id} is not a valuation of a pledged asset "
                f"({', '.join(str(a) for a in asset_ids)}).",
                field="valuation_id",
            )
        named_for = int(named.asset_id)
    for aid in asset_ids:
        asset = session.get(DataAsset, int(aid))
        if asset is None:
            raise NotFoundError(f"Asset {aid} does not exist.")
        if for_pledge and asset.status in ("suspended", "retired"):
            raise ConflictError(f"Asset {aid} is {asset.status} and cannot be pledged.")
        if for_pledge and not asset.holding:
            # Only the holder of the data resource may pledge it (CAS 2023: the holding right
            # carries disposal; processing-use and product-operation rights alone do not).
            raise InvalidInputError(
                f"The `rights.holding` of asset {aid} must be true to pledge it: the registrant "
                "holds no data-resource holding right, so it cannot grant a pledge.",
                field="rights.holding",
            )
        row, quote = relied_on_valuation(
            session,
            int(aid),
            as_of=as_of,
            valuation_id=valuation_id if named_for == int(aid) else None,
            tenant=tenant,
        )
        if row.currency != currency:
            raise InvalidInputError(
                f"The valuation {row.id} of asset {aid} is in {row.currency}; the loan is in {currency}.",
                field="currency",
            )
        consent: float | None = None
        if for_pledge and tenant is not None and asset.owner_tenant != tenant:
            granted = consented_amount(session, int(aid), tenant, as_of, currency)
            if granted is None:
                raise ForbiddenError(
                    f"Asset {aid} belongs to another tenant, whose registrar has not consented to a "
                    f"pledge by your tenant in {currency} valid on {as_of} "
                    f"(POST /v1/assets/{aid}/consents, by the owner)."
                )
            consent = float(granted)
        reads.append(
            (asset, row, quote, consent, _replay_plan(session, row) if for_pledge else None)
        )
    if for_pledge:
        # every read is done: end the read transaction so the simulations below hold no
        # database connection (a quote or an origination then writes in a short transaction)
        session.commit()
    out = []
    for asset, row, quote, consent, replay in reads:
        aid = int(asset.id)  # type: ignore[arg-type]
        value = float(row.value)
        if replay is None:  # revaluation: the stored figures alone, no paths
            sim, v0_sim, revenue = None, value, np.zeros(0)
        else:
            sim = replay().simulation
            if sim is None or sim.months <= DEFAULT_LIQUIDATION_HORIZON_MONTHS:
                raise ConflictError(
                    f"Asset {aid} cannot be pledged: it has no revenue history to simulate its value "
                    "over the liquidation horizon."
                )
            v0_sim, revenue = float(np.mean(sim.values)), np.asarray(sim.revenue)
        if not (value > 0 and v0_sim > 0):
            raise ConflictError(f"Asset {aid} cannot be pledged: its value is not positive.")
        haircut = float(quote.haircut)
        lv = float(quote.lending_value)
        adv = pol.advance_rate(asset.category)
        out.append(
            AssetCollateral(
                asset=asset,
                value=value,
                haircut=haircut,
                lending_value=lv,
                advance_rate=adv,
                max_loan=min(adv * value, lv),
                pledged=float(pledged.get(aid, Decimal(0))),
                value_0_sim=v0_sim,
                revenue=revenue,
                sim=sim,
                valuation_id=int(row.id),  # type: ignore[arg-type]
                paths=int(row.paths),
                seed=int(row.seed),
                pledged_own=float(own.get(aid, Decimal(0))),
                consent=consent,
            )
        )
    return out
