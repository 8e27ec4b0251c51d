"""Request and response models of the valuation endpoints (the API contract)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from valuation.conventions import parse_currency
from valuation.engine import EARLIEST_AS_OF, LATEST_AS_OF
from valuation.errors import ConventionError
from valuation.montecarlo import MAX_PATHS


class ValuationRequest(BaseModel):
    """Body of ``POST /v1/assets/{id}/valuations``."""

    model_config = ConfigDict(extra="forbid")

    as_of: date = Field(description="Valuation date, YYYY-MM-DD.")
    currency: str = Field("CNY", description="ISO 4217 code of the valuation.")
    paths: int = Field(
        10_000,
        ge=1,
        le=MAX_PATHS,
        description=f"Monte Carlo paths, 1..{MAX_PATHS:,}; "
        "paths times the months simulated at most 6,000,000 per request (422 naming paths).",
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of the Monte Carlo generator.")
    weights: dict[str, float] | None = Field(
        None, description="Reconciliation weights by approach: income, cost, market."
    )
    assumptions: dict[str, Any] | None = Field(
        None,
        description="Valuation assumptions (the API contract); every result echoes those used.",
    )
    risk_free_rate: float | None = Field(
        None,
        gt=-1.0,
        lt=1.0,
        description="Flat risk-free zero rate (decimal, annual compounding, ACT/365F) for the "
        "curve; default: the currency's documented default.",
    )

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: date) -> date:
        if not EARLIEST_AS_OF <= value <= LATEST_AS_OF:
            raise ValueError(
                f"The `as_of` must be between {EARLIEST_AS_OF} and {LATEST_AS_OF}. Got {value}."
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return parse_currency(value)
        except ConventionError as exc:
            raise ValueError(str(exc)) from None


class DistributionOut(BaseModel):
    mean: float
    std: float
    p05: float
    p50: float
    p95: float


class MethodOut(BaseModel):
    value: float | None = Field(description="The approach's value; null when it could not run.")
    assumptions: dict[str, Any] = Field(default_factory=dict)
    diagnostics: dict[str, Any] = Field(default_factory=dict)
    unavailable: str | None = Field(
        None, description="What the approach lacks, when it could not run."
    )
    distribution: DistributionOut | None = Field(
        None, description="The approach's own uncertainty (mean, std, p05, p50, p95)."
    )


class WarningOut(BaseModel):
    code: str = Field(
        description="stale_signals, short_history, level_shift, approaches_disagree, "
        "default_assumption, ..."
    )
    message: str


class ReconciliationOut(BaseModel):
    weights: dict[str, float]
    evidence: dict[str, dict[str, float]] = Field(
        description="Per approach: sufficiency, cv, precision, evidence (= sufficiency x precision)."
    )
    disagreement_ratio: float | None = Field(
        description="Largest over smallest approach value; null with one approach or when one is zero."
    )
    disagree: bool = False
    weights_given: bool = False
    rationale: str


class SensitivityOut(BaseModel):
    name: str = Field(description="discount_rate, revenue, half_life_months, economic_life_months.")
    shift: str = Field(description="+1pp, -1pp, +20%, -20%, x0.5, x2, +12m, -12m.")
    value: float = Field(description="Reconciled value with that one change (weights fixed).")
    change: float | None = Field(None, description="value / base value - 1.")


class ModelOut(BaseModel):
    version: str
    libraries: dict[str, str]


class QuoteOut(BaseModel):
    id: int
    asset_id: int
    valuation_id: int
    category: str
    mid: float
    bid: float
    ask: float
    lending_value: float
    haircut: float
    currency: str
    as_of: date
    valid_until: date
    created_at: datetime
    public: bool = Field(
        True,
        description="The exchange's public quote of the asset (valued by its "
        "registrar or an admin), or the caller's own figure.",
    )


class ValuationOut(BaseModel):
    id: int
    asset_id: int
    as_of: date
    currency: str
    value: float
    distribution: DistributionOut
    methods: dict[str, MethodOut]
    weights: dict[str, float]
    quote: QuoteOut
    seed: int
    paths: int
    model_version: str
    inputs_sha256: str
    created_at: datetime
    notes: list[str] = Field(default_factory=list)
    simulation: dict[str, Any] | None = None
    warnings: list[WarningOut] = Field(default_factory=list)
    reconciliation: ReconciliationOut | None = None
    sensitivities: list[SensitivityOut] = Field(default_factory=list)
    model: ModelOut | None = None
    histogram: dict[str, list[float]] | None = Field(
        None, description="Weighted histogram of the mixture: edges, density."
    )
    haircut_basis: dict[str, Any] | None = Field(
        None, description="The quote's haircut parameters and what they rest on."
    )


class ValuationList(BaseModel):
    items: list[ValuationOut]
    next_cursor: str | None


class QuoteList(BaseModel):
    items: list[QuoteOut]
    next_cursor: str | None
