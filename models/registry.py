"""Registry tables: data assets, their monthly signals, cost records, comparables.

Follows the SQLModel idiom ``XBase / XCreate / X(table=True) / XPublic``. The
flat column names of :class:`DataAsset` equal the API's nested field names
(``rights.holding`` -> ``holding``, ``quality.accuracy`` -> ``accuracy``), see
:data:`RIGHTS_FIELDS` and :data:`QUALITY_FIELDS`.

Certificate numbers ``DA-<year>-<6-digit sequence>`` come from
:func:`issue_certificate_no`, which increments a per-year counter row with one
atomic ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` in the caller's
transaction: concurrent registrations serialise on that row (PostgreSQL row lock,
SQLite database write lock), and a rolled-back registration does not consume a
number.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlmodel import Field, Session, SQLModel

import models.db  # noqa: F401  (sets the constraint naming convention first)
from models.db import utc_now

ASSET_CATEGORIES = ("consumer", "industrial", "geospatial", "financial", "healthcare", "other")
"""Data-asset categories (DESIGN.md)."""


class AssetStatus(StrEnum):
    """Life cycle of a registered data asset."""

    REGISTERED = "registered"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


ASSET_STATUSES = tuple(s.value for s in AssetStatus)
"""Life cycle of a registered asset; new registrations start as ``registered``."""

COST_CATEGORIES = ("acquisition", "collection", "cleaning", "storage", "compute", "compliance")
"""Cost-record categories (DESIGN.md)."""

RIGHTS_FIELDS = (
    "holding",
    "processing_use",
    "product_operation",
    "exclusive",
    "territory",
    "cross_border",
    "term_months",
)
"""Columns of :class:`DataAsset` holding the API's ``rights`` object."""

QUALITY_FIELDS = (
    "accuracy",
    "consistency",
    "completeness",
    "conformity",
    "timeliness",
    "accessibility",
)
"""Columns of :class:`DataAsset` holding the API's ``quality`` object (GB/T 36344)."""

CERTIFICATE_PATTERN = r"^DA-\d{4}-\d{6}$"
MAX_CERTIFICATE_SEQUENCE = 999_999


def month_start(value: date) -> date:
    """The first day of ``value``'s month (how signal months are stored)."""
    return value.replace(day=1)


# ------------------------------------------------------------------ data assets


class DataAssetBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(index=True, max_length=40)
    # rights held (CAS 2023 guidance: holding / processing-use / product-operation)
    holding: bool = Field(description="Data resource holding right held.")
    processing_use: bool = Field(description="Data processing and use right held.")
    product_operation: bool = Field(description="Data product operation right held.")
    exclusive: bool = Field(description="The rights are exclusive.")
    territory: str = Field(max_length=80, description="Territory the rights cover, e.g. CN.")
    cross_border: bool = Field(description="Cross-border transfer allowed.")
    term_months: int | None = Field(
        default=None,
        ge=1,
        description="Remaining term of the rights in months; null: no stated end.",
    )
    # quality, GB/T 36344 six dimensions, each a decimal in [0, 1]
    accuracy: float = Field(ge=0.0, le=1.0)
    consistency: float = Field(ge=0.0, le=1.0)
    completeness: float = Field(ge=0.0, le=1.0)
    conformity: float = Field(ge=0.0, le=1.0)
    timeliness: float = Field(ge=0.0, le=1.0)
    accessibility: float = Field(ge=0.0, le=1.0)
    records: int = Field(ge=0, description="Number of records in the data set.")
    refresh_days: int = Field(ge=1, description="Days between refreshes of the data.")
    fingerprint_sha256: str = Field(
        index=True,
        min_length=64,
        max_length=64,
        regex=r"^[0-9a-f]{64}$",
        description="SHA-256 of the content, lower-case hex.",
    )


class DataAsset(DataAssetBase, table=True):
    __tablename__ = "data_asset"

    id: int | None = Field(default=None, primary_key=True)
    certificate_no: str = Field(unique=True, max_length=16)
    owner_tenant: str = Field(index=True, max_length=80)
    status: str = Field(default=AssetStatus.REGISTERED.value, max_length=20)
    created_at: datetime = Field(default_factory=utc_now)

    def rights(self) -> dict[str, Any]:
        """The ``rights`` object of the API."""
        return {name: getattr(self, name) for name in RIGHTS_FIELDS}

    def quality(self) -> dict[str, float]:
        """The ``quality`` object of the API."""
        return {name: getattr(self, name) for name in QUALITY_FIELDS}


# ------------------------------------------------------------------ certificates


class CertificateCounter(SQLModel, table=True):
    """Last certificate sequence issued per registration year."""

    __tablename__ = "certificate_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_value: int = Field(default=0)


def format_certificate_no(year: int, sequence: int) -> str:
    """``DA-<year>-<6-digit sequence>``."""
    if not 1 <= sequence <= MAX_CERTIFICATE_SEQUENCE:
        raise ValueError(
            f"The certificate sequence must be in 1..{MAX_CERTIFICATE_SEQUENCE}. Got {sequence}."
        )
    return f"DA-{year:04d}-{sequence:06d}"


def issue_certificate_no(session: Session, at: datetime | date | None = None) -> str:
    """Take the next certificate number of ``at``'s year in the session's transaction.

    Parameters
    ----------
    session : Session
        The caller's session; the counter moves only if its transaction commits.
    at : datetime or date, optional
        Registration time (UTC); default now.

    Returns
    -------
    str
        ``DA-<year>-<6-digit sequence>``, unique across the registry.
    """
    year = (at or utc_now()).year
    table = CertificateCounter.__table__  # type: ignore[attr-defined]
    bind = session.get_bind()
    insert = pg_dialect.insert if bind.dialect.name == "postgresql" else sqlite_dialect.insert
    stmt = (
        insert(table)
        .values(year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[table.c.year],
            set_={"last_value": table.c.last_value + 1},
        )
        .returning(table.c.last_value)
    )
    sequence = int(session.execute(stmt).scalar_one())
    return format_certificate_no(year, sequence)


# ------------------------------------------------------------------ signals


class SignalBase(SQLModel):
    metric: str = Field(max_length=60, description="e.g. revenue, calls, active_subscribers.")
    month: date = Field(description="First day of the month the value belongs to.")
    value: float = Field(description="Monthly value in the metric's unit (revenue: major units).")


class Signal(SignalBase, table=True):
    """One monthly observation; unique per (asset, metric, month)."""

    __tablename__ = "asset_signal"
    __table_args__ = (sa.UniqueConstraint("asset_id", "metric", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="data_asset.id", ondelete="CASCADE", index=True)


# ------------------------------------------------------------------ costs


class CostRecordBase(SQLModel):
    category: str = Field(max_length=40)
    amount: Decimal = Field(ge=0, max_digits=20, decimal_places=4, description="Major units.")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")
    incurred_on: date
    recurring_months: int = Field(
        default=0, ge=0, description="0 for a one-off cost, else months it recurs."
    )


class CostRecord(CostRecordBase, table=True):
    __tablename__ = "cost_record"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="data_asset.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utc_now)


# ------------------------------------------------------------------ comparables


class ComparableBase(SQLModel):
    category: str = Field(index=True, max_length=40)
    price: Decimal = Field(gt=0, max_digits=20, decimal_places=4, description="Major units.")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")
    traded_on: date
    records: int = Field(ge=0)
    quality_score: float = Field(ge=0.0, le=1.0)
    rights_scope: str = Field(max_length=80, description="Rights transferred, e.g. processing_use.")
    annual_revenue: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=20,
        decimal_places=4,
        description="Revenue of the traded product over the year before the trade, major units.",
    )


class Comparable(ComparableBase, table=True):
    """A recorded exchange transaction of a similar data product."""

    __tablename__ = "comparable"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=80, description="Tenant that recorded it.")
    created_at: datetime = Field(default_factory=utc_now)
