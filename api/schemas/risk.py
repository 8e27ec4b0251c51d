"""Request and response models of the risk endpoints (not tied to tables).

Scenario bodies are taken as plain JSON objects and validated by `risk.scenarios`, so that
an error names the exact field (``shocks.pd_multiplier``) in the API contract's terms.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.risk import RunStatus

#: Valuation dates the curves and calendars cover with room for the 10-year stress grid
#: (QuantLib: 1901..2199), as the loans API: 1901-01-01 .. 2149-12-31.
EARLIEST_AS_OF = date(1901, 1, 1)
LATEST_AS_OF = date(2149, 12, 31)


class ScenarioOut(BaseModel):
    """A stress scenario: its definition as given and its shocks composed with its parent."""

    name: str
    builtin: bool
    definition: dict[str, Any]
    horizon_months: int
    extends: str | None = None
    description: str = ""
    shocks: dict[str, Any]
    created_at: str | None = Field(None, description="RFC 3339 (UTC, Z); none for built-ins.")


class ScenarioList(BaseModel):
    items: list[ScenarioOut]
    next_cursor: str | None = None


class ReverseStressRequest(BaseModel):
    """Reverse stress of the run's scenario: the smallest scale of it that breaks a limit.

    ``limit``: ``expected_loss_budget`` (portfolio expected loss above ``threshold``, in the
    book's currency), ``senior_tranche_loss`` (the expected loss of a senior tranche above
    ``threshold``, a fraction of its notional; default 0.0001, i.e. 1 bp) or
    ``margin_calls`` (more than ``threshold`` loans in margin call; a whole number).
    The scenario is scaled by ``s`` in ``[0, max_scale]`` (0 = no shock, 1 = the scenario).
    """

    model_config = ConfigDict(extra="forbid")

    limit: Literal["expected_loss_budget", "senior_tranche_loss", "margin_calls"]
    threshold: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)
    max_scale: float = Field(default=4.0, gt=0, le=20, allow_inf_nan=False, strict=True)


class StressRunCreate(BaseModel):
    """``scenario``: a scenario name (built-in or the tenant's) or an inline scenario object."""

    model_config = ConfigDict(extra="forbid")

    scenario: str | dict[str, Any]
    paths: int = Field(
        default=256,
        ge=16,
        le=4096,
        description="Monte Carlo paths per asset (recorded with the run).",
    )
    seed: int = Field(
        default=20_260_101, ge=0, le=2**63 - 1, description="Root seed (recorded with the run)."
    )
    as_of: date | None = Field(
        default=None,
        ge=EARLIEST_AS_OF,
        le=LATEST_AS_OF,
        description="Valuation date (default: today), 1901..2149.",
    )
    reverse: ReverseStressRequest | None = Field(
        default=None,
        description="Optional reverse stress: the scale of the scenario at "
        "which a limit breaks (reported in the results' `reverse`).",
    )


class StressRunAccepted(BaseModel):
    id: int
    status: RunStatus
    progress: float


class StressRunStatus(BaseModel):
    id: int
    status: RunStatus
    progress: float = Field(ge=0.0, le=1.0)
    scenario: str
    error: str | None = None
    record: dict[str, Any] | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class StressRunList(BaseModel):
    """``GET /v1/stress-runs``: a page of the tenant's runs, newest first."""

    items: list[StressRunStatus]
    next_cursor: str | None = None


class SensitivityBumps(BaseModel):
    """Bump sizes: ``rate_bp`` and ``spread_bp`` in basis points, ``revenue`` a relative
    change of revenue (0.01 = 1 %), ``correlation`` an absolute change (decimal)."""

    model_config = ConfigDict(extra="forbid")

    rate_bp: float = Field(default=1.0, gt=0, le=500, allow_inf_nan=False, strict=True)
    spread_bp: float = Field(default=1.0, gt=0, le=500, allow_inf_nan=False, strict=True)
    revenue: float = Field(default=0.01, gt=0, le=0.5, allow_inf_nan=False, strict=True)
    correlation: float = Field(default=0.01, gt=0, le=0.2, allow_inf_nan=False, strict=True)


class SensitivitiesRequest(BaseModel):
    """Bump-and-revalue sensitivities of the tenant's book (synchronous)."""

    model_config = ConfigDict(extra="forbid")

    paths: int = Field(
        default=256,
        ge=16,
        le=4096,
        description="Monte Carlo paths per asset (recorded in the answer).",
    )
    seed: int = Field(default=20_260_101, ge=0, le=2**63 - 1)
    as_of: date | None = Field(
        default=None,
        ge=EARLIEST_AS_OF,
        le=LATEST_AS_OF,
        description="Valuation date (default: today), 1901..2149.",
    )
    horizon_months: int = Field(
        default=12, ge=1, le=120, description="Horizon of the haircut and PD figures."
    )
    bumps: SensitivityBumps = Field(default_factory=SensitivityBumps)
