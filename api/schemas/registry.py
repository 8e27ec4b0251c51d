"""Request and response models of the registry endpoints (``/v1/assets``, ``/v1/comparables``).

The API nests ``rights`` and ``quality``; the table (``models.registry.DataAsset``) stores
them as flat columns of the same names.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.registry import ASSET_CATEGORIES, ASSET_STATUSES, COST_CATEGORIES, AssetStatus
from valuation.conventions import parse_currency
from valuation.errors import ConventionError
from valuation.market_approach import parse_scope

MAX_INT32 = 2_147_483_647
MAX_AMOUNT = 10**15
"""Largest amount accepted (major units); the database column holds 16 integer digits."""

SIGNAL_METRICS: dict[str, str] = {
    "revenue": "licence and data-product income in the month, major units of the asset's currency",
    "api_calls": "API calls served in the month",
    "active_subscribers": "paying subscribers active in the month",
    "downloads": "data-set downloads in the month",
    "records_delivered": "records delivered to customers in the month",
    "customers": "distinct paying customers in the month",
}
"""Metrics accepted by ``PUT /v1/assets/{id}/signals``, with their units."""

RIGHTS_SCOPES = ("processing_use", "product_operation", "holding")
"""What the buyer acquired in a comparable transaction (narrowest first); a ``rights_scope``
names one or more of them, optionally with ``exclusive`` and ``cross_border`` (or
``non_exclusive``, ``domestic``, the defaults), joined by ``+``."""

Fingerprint = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SHA-256 of the content, 64 hexadecimal characters (stored lower case).",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rights(Strict):
    """Rights held in the data (CAS 2023 guidance): holding, processing-use, product-operation."""

    holding: bool
    processing_use: bool
    product_operation: bool
    exclusive: bool
    territory: str = Field(min_length=1, max_length=80, examples=["CN"])
    cross_border: bool
    term_months: int | None = Field(
        None,
        ge=1,
        le=600,
        description="Remaining term of the rights in months (caps the economic life); null: no stated end.",
    )


class Quality(Strict):
    """GB/T 36344 data-quality dimensions, each a decimal in [0, 1]."""

    accuracy: float = Field(ge=0.0, le=1.0)
    consistency: float = Field(ge=0.0, le=1.0)
    completeness: float = Field(ge=0.0, le=1.0)
    conformity: float = Field(ge=0.0, le=1.0)
    timeliness: float = Field(ge=0.0, le=1.0)
    accessibility: float = Field(ge=0.0, le=1.0)


class AssetMetadata(Strict):
    """An asset's registration data without the fingerprint (sent with an uploaded file)."""

    name: str = Field(min_length=1, max_length=200)
    category: str = Field(description=f"One of {', '.join(ASSET_CATEGORIES)}.")
    rights: Rights
    quality: Quality
    records: int = Field(ge=0, le=MAX_INT32, description="Number of records in the data set.")
    refresh_days: int = Field(ge=1, le=36_500, description="Days between refreshes.")

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in ASSET_CATEGORIES:
            raise ValueError(f"must be one of {', '.join(ASSET_CATEGORIES)}; got {value!r}")
        return value


class AssetRegister(AssetMetadata):
    """Body of ``POST /v1/assets`` (JSON)."""

    fingerprint_sha256: Fingerprint

    @field_validator("fingerprint_sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class AssetPublic(BaseModel):
    """A registered asset as the API shows it."""

    id: int
    certificate_no: str = Field(examples=["DA-2026-000001"])
    name: str
    category: str
    rights: Rights
    quality: Quality
    records: int
    refresh_days: int
    fingerprint_sha256: str
    owner_tenant: str
    status: AssetStatus
    created_at: datetime


class AssetStatusUpdate(Strict):
    """Body of ``PATCH /v1/assets/{id}``: the new life-cycle status."""

    status: str = Field(description=f"One of {', '.join(ASSET_STATUSES)}.")

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in ASSET_STATUSES:
            raise ValueError(f"must be one of {', '.join(ASSET_STATUSES)}; got {value!r}")
        return value


class AssetList(BaseModel):
    items: list[AssetPublic]
    next_cursor: str | None


class SignalRow(BaseModel):
    """One monthly observation: month ``YYYY-MM``, metric, value."""

    month: str = Field(examples=["2025-01"])
    metric: str = Field(examples=["revenue"])
    value: float = Field(examples=[1200.0])


class SignalList(BaseModel):
    asset_id: int
    items: list[SignalRow]
    next_cursor: str | None


class SignalImportResult(BaseModel):
    """Outcome of an import: rows inserted, rows whose value changed, rows already equal."""

    inserted: int
    updated: int
    unchanged: int


def _finite_amount(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"the `{field}` must be a finite number; got {value!r}")
    return value


def _currency(value: Any) -> str:
    try:
        return parse_currency(value)
    except ConventionError as exc:
        raise ValueError(str(exc)) from exc


class CostRecordIn(Strict):
    """A cost record. ``amount`` is per month when ``recurring_months`` > 0, else one-off."""

    category: str = Field(description=f"One of {', '.join(COST_CATEGORIES)}.")
    amount: float = Field(ge=0.0, le=MAX_AMOUNT, description="Major units.")
    currency: str = Field(examples=["CNY"])
    incurred_on: date
    recurring_months: int = Field(
        default=0, ge=0, le=1200, description="0: one-off; n: paid monthly for n months."
    )

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in COST_CATEGORIES:
            raise ValueError(f"must be one of {', '.join(COST_CATEGORIES)}; got {value!r}")
        return value

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: Any) -> str:
        return _currency(value)

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: float) -> float:
        return _finite_amount(value, "amount")


class CostRecordOut(CostRecordIn):
    id: int
    asset_id: int
    created_at: datetime


class CostRecordList(BaseModel):
    items: list[CostRecordOut]
    next_cursor: str | None = None


class ComparableIn(Strict):
    """An exchange transaction of a similar data product."""

    category: str = Field(description=f"One of {', '.join(ASSET_CATEGORIES)}.")
    price: float = Field(gt=0.0, le=MAX_AMOUNT, description="Major units.")
    currency: str = Field(examples=["CNY"])
    traded_on: date
    records: int = Field(ge=0, le=MAX_INT32)
    quality_score: float = Field(ge=0.0, le=1.0)
    rights_scope: str = Field(
        max_length=80,
        description=f"Rights acquired: {', '.join(RIGHTS_SCOPES)} (or full), optionally "
        "+exclusive and +cross_border, e.g. product_operation+exclusive.",
        examples=["processing_use", "product_operation+exclusive"],
    )
    annual_revenue: float | None = Field(
        None,
        ge=0.0,
        le=MAX_AMOUNT,
        description="Revenue of the traded product over the year before the trade, major units of "
        "`currency`; with it the market approach prices by revenue multiple.",
    )

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in ASSET_CATEGORIES:
            raise ValueError(f"must be one of {', '.join(ASSET_CATEGORIES)}; got {value!r}")
        return value

    @field_validator("rights_scope")
    @classmethod
    def _known_scope(cls, value: str) -> str:
        try:
            parse_scope(value)
        except ConventionError as exc:
            raise ValueError(str(exc).replace("The `rights_scope` must", "must")) from None
        return value

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: Any) -> str:
        return _currency(value)

    @field_validator("price")
    @classmethod
    def _finite(cls, value: float) -> float:
        return _finite_amount(value, "price")


class ComparableOut(BaseModel):
    """A recorded comparable as stored. Output only: the input rules are not re-applied, so a
    row stored under older rules can always be read (and removed)."""

    id: int
    category: str
    price: float = Field(description="Major units, as booked (rounded to the minor unit).")
    currency: str
    traded_on: date
    records: int
    quality_score: float
    rights_scope: str
    annual_revenue: float | None = Field(None, description="Major units; null when not recorded.")
    tenant: str = Field(description="Tenant that recorded the transaction.")
    created_at: datetime


class ComparableList(BaseModel):
    items: list[ComparableOut]
    next_cursor: str | None
