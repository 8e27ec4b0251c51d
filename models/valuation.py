"""Valuation tables: immutable valuations and the quotes published from them.

A :class:`Valuation` row is written once and never changed (an ORM guard refuses
updates and deletes): it keeps the SHA-256 of its canonical inputs, the model
version and the seed, so the same inputs and seed reproduce the same figures
exactly. Each valuation publishes one :class:`AssetQuote`; the latest quote of an
asset is the one served.

Amounts are booked as ``Numeric(20, 4)`` in major units, rounded to the currency's
minor unit at the shell boundary (``valuation.conventions.round_money``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

import models.db  # noqa: F401  (sets the constraint naming convention first)
from models.db import utc_now


class ValuationBase(SQLModel):
    asset_id: int = Field(foreign_key="data_asset.id", ondelete="CASCADE", index=True)
    as_of: date
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")
    paths: int = Field(ge=1, description="Monte Carlo paths.")
    seed: int = Field(sa_type=sa.BigInteger, ge=0, description="Seed of the Monte Carlo generator.")
    model_version: str = Field(max_length=60)
    inputs_sha256: str = Field(
        index=True, min_length=64, max_length=64, description="SHA-256 of the canonical inputs."
    )
    value: Decimal = Field(
        max_digits=20, decimal_places=4, description="Reconciled value, major units."
    )
    mean: Decimal = Field(max_digits=20, decimal_places=4)
    std: Decimal = Field(max_digits=20, decimal_places=4)
    p05: Decimal = Field(max_digits=20, decimal_places=4)
    p50: Decimal = Field(max_digits=20, decimal_places=4)
    p95: Decimal = Field(max_digits=20, decimal_places=4)
    result_json: str = Field(
        sa_type=sa.Text,
        description="Methods, weights, assumptions, quote details (canonical JSON).",
    )


class Valuation(ValuationBase, table=True):
    """One valuation of one asset; immutable once written."""

    __tablename__ = "valuation"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=80, description="Tenant of the key that asked.")
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utc_now)


class AssetQuote(SQLModel, table=True):
    """A published quote (API contract: ``GET /v1/quotes/{asset_id}``)."""

    __tablename__ = "asset_quote"

    id: int | None = Field(default=None, primary_key=True)
    valuation_id: int = Field(foreign_key="valuation.id", ondelete="CASCADE", index=True)
    asset_id: int = Field(foreign_key="data_asset.id", ondelete="CASCADE", index=True)
    category: str = Field(index=True, max_length=40)
    currency: str = Field(min_length=3, max_length=3)
    as_of: date
    valid_until: date
    mid: Decimal = Field(max_digits=20, decimal_places=4)
    bid: Decimal = Field(max_digits=20, decimal_places=4)
    ask: Decimal = Field(max_digits=20, decimal_places=4)
    lending_value: Decimal = Field(max_digits=20, decimal_places=4)
    haircut: float = Field(ge=0.0, le=1.0)
    created_at: datetime = Field(default_factory=utc_now)
    #: The exchange's public quote (valued by the asset's own registrar or an admin), or a
    #: lender's own figure (kept for its tenant, never shown as the asset's quote).
    public: bool = Field(default=True, index=True, sa_column_kwargs={"server_default": sa.true()})


IMMUTABLE_TABLES: tuple[type[SQLModel], ...] = (Valuation, AssetQuote)


@event.listens_for(OrmSession, "before_flush")
def _forbid_valuation_changes(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Valuations and quotes are a record: never updated, never deleted through the ORM."""
    for obj in session.dirty:
        if isinstance(obj, IMMUTABLE_TABLES) and session.is_modified(obj):
            raise PermissionError(f"A {type(obj).__name__} is immutable: write a new one instead.")
    for obj in session.deleted:
        if isinstance(obj, IMMUTABLE_TABLES):
            raise PermissionError(f"A {type(obj).__name__} is immutable: it cannot be deleted.")
