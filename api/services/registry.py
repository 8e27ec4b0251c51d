"""Registry services: register data assets and their costs.

An asset's signals are `api.services.signals`; comparables, shared by a category, are
`api.services.comparables`.

Used by the HTTP routers (``api/routers/assets.py``, ``api/routers/comparables.py``), the
CLI and the demo, so every path applies the same rules. Each writing function is one
unit of work: it validates everything first, writes the rows and an audit entry
(``models.audit.record_audit``) in the same transaction and commits; on any error
nothing is written.

Who may write (the API contract): registering needs a registrar (checked by the caller);
changing an asset's signals or costs needs the asset's owner tenant, so these
functions take the caller's ``tenant`` and answer `NotFoundError` for another
tenant's asset (never revealing that it exists).

Reading helpers for the other areas: `costs_frame` and `asset_profile_dict` return what
``valuation.value_asset`` takes (with `api.services.signals.signals_frame` and
`api.services.comparables.comparables_frame`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import IO, Any

import pandas as pd
from sqlmodel import Session, col, select

from api.errors import ConflictError, InvalidInputError, NotFoundError
from api.schemas.registry import (
    AssetPublic,
    AssetRegister,
    CostRecordIn,
    Quality,
    Rights,
)
from models.audit import record_audit
from models.db import row_id
from models.registry import (
    QUALITY_FIELDS,
    RIGHTS_FIELDS,
    AssetStatus,
    CostRecord,
    DataAsset,
    issue_certificate_no,
)
from valuation.conventions import round_money

EARLIEST_DATE = date(1901, 1, 1)
LATEST_DATE = date(2199, 12, 31)
"""Dates the registry accepts (signal months, cost and trade dates): QuantLib's date range,
so that every recorded date can later be used by the valuation engine."""


# ------------------------------------------------------------------ assets


def fingerprint_stream(stream: IO[bytes], chunk_size: int = 1 << 20) -> str:
    """SHA-256 (lower-case hex) of a binary stream, read in chunks."""
    digest = hashlib.sha256()
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
    return digest.hexdigest()


def asset_public(asset: DataAsset) -> AssetPublic:
    """The API view of an asset (``rights`` and ``quality`` nested)."""
    return AssetPublic(
        id=int(asset.id or 0),
        certificate_no=asset.certificate_no,
        name=asset.name,
        category=asset.category,
        rights=Rights(**asset.rights()),
        quality=Quality(**asset.quality()),
        records=asset.records,
        refresh_days=asset.refresh_days,
        fingerprint_sha256=asset.fingerprint_sha256,
        owner_tenant=asset.owner_tenant,
        status=asset.status,
        created_at=asset.created_at,
    )


def register_asset(session: Session, data: AssetRegister, *, tenant: str, actor: str) -> DataAsset:
    """Register a data asset for `tenant`; issue its certificate number; audit; commit.

    Raises
    ------
    ConflictError
        An asset with the same content fingerprint is already registered.
    """
    existing = session.exec(
        select(DataAsset).where(DataAsset.fingerprint_sha256 == data.fingerprint_sha256)
    ).first()
    if existing is not None:
        raise ConflictError(
            f"Content with fingerprint {data.fingerprint_sha256} is already registered "
            f"as {existing.certificate_no} (asset {existing.id})."
        )
    flat: dict[str, Any] = {
        "name": data.name,
        "category": data.category,
        "records": data.records,
        "refresh_days": data.refresh_days,
        "fingerprint_sha256": data.fingerprint_sha256,
    }
    flat.update({name: getattr(data.rights, name) for name in RIGHTS_FIELDS})
    flat.update({name: getattr(data.quality, name) for name in QUALITY_FIELDS})
    asset = DataAsset(**flat, certificate_no=issue_certificate_no(session), owner_tenant=tenant)
    session.add(asset)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="asset.register",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={"certificate_no": asset.certificate_no, **data.model_dump(mode="json")},
    )
    session.commit()
    return asset


def get_asset(session: Session, asset_id: int) -> DataAsset:
    """Any registered asset (the public record); `NotFoundError` if there is none."""
    asset = session.get(DataAsset, asset_id)
    if asset is None:
        raise NotFoundError(f"There is no data asset with id {asset_id}.")
    return asset


def get_owned_asset(session: Session, asset_id: int, tenant: str) -> DataAsset:
    """An asset owned by `tenant`; another tenant's asset is reported as not found."""
    asset = session.get(DataAsset, asset_id)
    if asset is None or asset.owner_tenant != tenant:
        raise NotFoundError(f"There is no data asset with id {asset_id}.")
    return asset


def set_asset_status(
    session: Session, asset_id: int, status: str, *, tenant: str, actor: str
) -> DataAsset:
    """Change the status of an asset of `tenant` (``registered``, ``active``, ``suspended``,
    ``retired``); audit; commit. Setting the current status again writes nothing."""
    asset = get_owned_asset(session, asset_id, tenant)
    if asset.status == status:
        return asset
    previous, asset.status = asset.status, AssetStatus(status).value
    session.add(asset)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="asset.status",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={"from": previous, "to": status},
    )
    session.commit()
    return asset


def list_assets(
    session: Session, *, category: str | None = None, limit: int = 50, after_id: int | None = None
) -> tuple[list[DataAsset], bool]:
    """Assets ordered by id after `after_id`; returns ``(page, more_pages)``."""
    query = select(DataAsset).order_by(col(DataAsset.id))
    if category is not None:
        query = query.where(DataAsset.category == category)
    if after_id is not None:
        query = query.where(col(DataAsset.id) > after_id)
    rows = list(session.exec(query.limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


# ------------------------------------------------------------------ signals


# ------------------------------------------------------------------ costs


def check_dates(dates: Sequence[date], name: str) -> None:
    """422 naming ``<index>.<name>`` for every date outside `EARLIEST_DATE`..`LATEST_DATE`."""
    errors = [
        {
            "field": f"{i}.{name}",
            "message": f"The `{name}` must be between {EARLIEST_DATE} and {LATEST_DATE}. Got {d}.",
        }
        for i, d in enumerate(dates)
        if not EARLIEST_DATE <= d <= LATEST_DATE
    ]
    if errors:
        raise InvalidInputError(errors[0]["message"], errors=errors)


def add_costs(
    session: Session,
    asset_id: int,
    records: Iterable[CostRecordIn],
    *,
    tenant: str,
    actor: str,
) -> list[CostRecord]:
    """Record cost records for an asset of `tenant`; audit; commit."""
    asset = get_owned_asset(session, asset_id, tenant)
    items = list(records)
    if not items:
        raise InvalidInputError("Send at least one cost record.", field="body")
    check_dates([r.incurred_on for r in items], "incurred_on")
    rows = [
        CostRecord(
            asset_id=row_id(asset),
            category=r.category,
            amount=money_decimal(r.amount, r.currency),
            currency=r.currency,
            incurred_on=r.incurred_on,
            recurring_months=r.recurring_months,
        )
        for r in items
    ]
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="costs.add",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={
            "ids": [r.id for r in rows],
            "records": [r.model_dump(mode="json") for r in items],
        },
    )
    session.commit()
    return rows


def list_costs(
    session: Session, asset_id: int, *, limit: int = 50, after_id: int | None = None
) -> tuple[list[CostRecord], bool]:
    """An asset's cost records ordered by id."""
    get_asset(session, asset_id)
    query = select(CostRecord).where(CostRecord.asset_id == asset_id)
    if after_id is not None:
        query = query.where(col(CostRecord.id) > after_id)
    rows = list(session.exec(query.order_by(col(CostRecord.id)).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


# ------------------------------------------------------------------ comparables


def money_decimal(amount: float, currency: str) -> Decimal:
    """Amounts are booked rounded to the currency's minor unit, once (the API contract; the column
    keeps 4 decimals)."""
    return round_money(float(amount), currency)


# ------------------------------------------------------------------ frames for the core


def costs_frame(session: Session, asset_id: int) -> pd.DataFrame:
    """Cost records of an asset: ``category, amount, currency, incurred_on, recurring_months``."""
    get_asset(session, asset_id)
    rows = session.exec(
        select(CostRecord).where(CostRecord.asset_id == asset_id).order_by(col(CostRecord.id))
    ).all()
    return pd.DataFrame(
        {
            "category": [r.category for r in rows],
            "amount": [float(r.amount) for r in rows],
            "currency": [r.currency for r in rows],
            "incurred_on": [r.incurred_on for r in rows],
            "recurring_months": [int(r.recurring_months) for r in rows],
        },
        columns=["category", "amount", "currency", "incurred_on", "recurring_months"],
    )


def asset_profile_dict(asset: DataAsset) -> dict[str, Any]:
    """The asset's registration data as plain values (id, name, category, rights, quality,
    records, refresh_days), for building ``valuation.asset.AssetProfile``."""
    return {
        "id": str(asset.id),
        "name": asset.name,
        "category": asset.category,
        "rights": asset.rights(),
        "quality": asset.quality(),
        "records": asset.records,
        "refresh_days": asset.refresh_days,
    }
